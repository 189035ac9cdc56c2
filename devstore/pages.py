"""The devstore's HTML: a storefront to buy a product (so the demo shows the whole flow) and an
admin page listing orders and the webhook log. Server-rendered, no external assets."""

from __future__ import annotations

from html import escape

from devstore.models import Order, Shop
from devstore.payloads import gql_time
from devstore.store import DevStore

STYLE = """
body{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#222}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}
.product{border:1px solid #ddd;border-radius:8px;padding:1rem;margin:1rem 0}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #eee;padding:.3rem;text-align:left;font-size:13px}
input,select,button{font:inherit;margin:.2rem}nav a{margin-right:1rem}.muted{color:#777}
"""


def _page(title: str, body: str) -> bytes:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
        f"{body}</body></html>"
    ).encode()


def _shop(store: DevStore, domain: str | None) -> Shop | None:
    with store.lock:
        if domain:
            return store.shops.get(domain.strip().lower())
        return next(iter(store.shops.values()), None)


def _nav(shop: Shop) -> str:
    q = f"?shop={escape(shop.domain)}"
    return f"<nav><a href='/{q}'>Storefront</a><a href='/admin{q}'>Admin</a></nav>"


def storefront(store: DevStore, domain: str | None) -> bytes:
    shop = _shop(store, domain)
    if shop is None:
        return _page("Devstore", "<h1>Devstore</h1><p>No shop yet. Start with --seed-demo.</p>")
    parts = [_nav(shop), f"<h1>{escape(shop.name)}</h1>"]
    with store.lock:
        products = list(shop.products.values())
    if not products:
        parts.append("<p>No products yet.</p>")
    for product in products:
        options = "".join(
            f"<option value='{v.id}'>{escape(v.title)} ({v.price} USD)</option>"
            for v in product.variants
        )
        parts.append(
            f"<form class=product method=post action='/checkout'>"
            f"<h2>{escape(product.title)}</h2>"
            f"<p class=muted>product {product.id}</p>"
            f"<input type=hidden name=shop value='{escape(shop.domain)}'>"
            f"<label>Option <select name=variant>{options}</select></label>"
            f"<label>Quantity <input name=quantity type=number min=1 value=1 style='width:4rem'></label><br>"
            f"<label>Email <input name=email type=email required placeholder='you@example.com'></label>"
            f"<label>First name <input name=first_name></label>"
            f"<label>Last name <input name=last_name></label><br>"
            f"<label><input type=checkbox name=test> test order</label><br>"
            f"<button name=pay value=now>Buy and pay now</button>"
            f"<button name=pay value=later>Buy, pay later</button>"
            f"</form>"
        )
    return _page(shop.name, "".join(parts))


def thanks(shop: Shop, order: Order) -> bytes:
    status = "paid" if order.financial_status == "paid" else order.financial_status
    body = (
        f"{_nav(shop)}<h1>Thank you for your order {escape(order.name)}</h1>"
        f"<p>Order {order.id} for {escape(order.email)} is <b>{escape(status)}</b>.</p>"
        f"<p>{len(order.line_items)} item(s): "
        + ", ".join(escape(line.name) for line in order.line_items)
        + "</p><p class=muted>The shop's webhooks are on their way; see the admin page.</p>"
    )
    return _page(f"Order {order.name}", body)


def _button(shop: Shop, order: Order, action: str, label: str) -> str:
    return (
        f"<form method=post action='/admin/action' style='display:inline'>"
        f"<input type=hidden name=shop value='{escape(shop.domain)}'>"
        f"<input type=hidden name=order value='{order.id}'>"
        f"<button name=action value={action}>{label}</button></form>"
    )


def admin(store: DevStore, domain: str | None) -> bytes:
    shop = _shop(store, domain)
    if shop is None:
        return _page("Devstore admin", "<h1>Devstore admin</h1><p>No shop yet.</p>")
    with store.lock:
        orders = sorted(shop.orders.values(), key=lambda o: o.created_at, reverse=True)[:200]
        deliveries = [d for d in store.webhooks.deliveries if d.shop == shop.domain][-200:]
        mode = store.webhooks.mode
        held = len(store.webhooks.held)
        rows = []
        for order in orders:
            actions = []
            if order.financial_status in ("pending", "authorized"):
                actions.append(_button(shop, order, "paid", "Mark paid"))
            if order.financial_status in ("paid", "partially_refunded"):
                actions.append(_button(shop, order, "refund", "Refund"))
            if order.cancelled_at is None:
                actions.append(_button(shop, order, "cancel", "Cancel"))
            rows.append(
                f"<tr><td>{escape(order.name)}</td><td>{order.id}</td><td>{escape(order.email)}</td>"
                f"<td>{escape(order.financial_status)}{' (cancelled)' if order.cancelled_at else ''}"
                f"{' (test)' if order.test else ''}</td><td>{gql_time(order.created_at)}</td>"
                f"<td>{sum(line.quantity for line in order.line_items)}</td><td>{''.join(actions)}</td></tr>"
            )
        hooks = [
            f"<tr><td>{escape(d.topic)}</td><td>{d.order_id or ''}</td><td>{escape(d.webhook_id)}</td>"
            f"<td>{escape(d.state)}</td><td>{d.status if d.status is not None else ''}</td>"
            f"<td>{d.attempts}</td><td>{escape(d.errors[-1] if d.errors else '')}</td></tr>"
            for d in reversed(deliveries)
        ]
    modes = "".join(
        f"<option{' selected' if m == mode else ''}>{m}</option>"
        for m in ("deliver", "drop", "duplicate", "delay", "reorder")
    )
    body = (
        f"{_nav(shop)}<h1>{escape(shop.name)} admin</h1>"
        f"<p class=muted>{escape(shop.domain)}, plan {escape(shop.plan)}, "
        f"{'installed' if shop.installed else 'uninstalled'}, webhooks to "
        f"{escape(shop.webhook_url or 'nowhere')}</p>"
        "<h2>Orders</h2><table><tr><th>Name</th><th>Id</th><th>Email</th><th>Status</th>"
        "<th>Created</th><th>Items</th><th></th></tr>" + "".join(rows) + "</table>"
        "<h2>Webhooks</h2>"
        f"<form method=post action='/admin/action'><input type=hidden name=shop value='{escape(shop.domain)}'>"
        f"Mode <select name=mode>{modes}</select><button name=action value=mode>Set</button>"
        f" {held} held <button name=action value=flush>Flush</button></form>"
        "<table><tr><th>Topic</th><th>Order</th><th>Webhook id</th><th>State</th><th>Status</th>"
        "<th>Attempts</th><th>Last error</th></tr>" + "".join(hooks) + "</table>"
    )
    return _page(f"{shop.name} admin", body)


def app_frame(shop: Shop, src: str) -> bytes:
    """Shopify's admin around the app: the app in an iframe, launched with a session token."""
    body = (
        f"{_nav(shop)}"
        f'<iframe title="Imprint" src="{escape(src)}" '
        'style="width:100%;height:80vh;border:1px solid #ccc"></iframe>'
    )
    return _page(f"{shop.name} · Imprint", body)
