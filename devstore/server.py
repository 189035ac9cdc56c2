"""The devstore's HTTP side: Admin GraphQL, the JSON control endpoints under /_devstore/, a small
storefront at / and an admin page at /admin. A plain WSGI app on a threading wsgiref server.

The Admin API is reached at `POST {url}/admin/api/{version}/graphql.json`. Imprint sends its
Admin calls to IMPRINT_SHOPIFY_ADMIN_ORIGIN instead of https://{shop}, so the path does not say
which shop is meant: the access token does (tokens are unique per shop). An
`X-Shopify-Shop-Domain` header, or a `Host` header naming a *.myshopify.com shop, is honoured too
and must then agree with the token.
"""

from __future__ import annotations

import json
import re
import socketserver
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from devstore import pages
from devstore.models import Order, Product, Refund, Shop
from devstore.oauth import OAuthError
from devstore.payloads import order_payload, refund_payload
from devstore.store import DevStore, DevStoreError, Invalid, NotFound
from devstore.webhooks import Delivery

GRAPHQL_PATH = re.compile(r"^/admin/api/(\d{4}-(?:01|04|07|10)|unstable)/graphql\.json$")
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
FAILURE_BODIES = {
    429: "Exceeded the rate limit for api client. Reduce request rates to resume uninterrupted service.",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
RETRY_AFTER_SECONDS = "2.0"  # what the devstore's 429s ask a client to wait
REASONS = {
    200: "OK",
    201: "Created",
    303: "See Other",
    302: "Found",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
MAX_BODY_BYTES = 10 * 1024 * 1024

Environ = dict[str, Any]
StartResponse = Callable[..., Any]


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()


def _json(status: int, data: Any, headers: tuple[tuple[str, str], ...] = ()) -> Response:
    return Response(status, json.dumps(data, ensure_ascii=False).encode(), headers=headers)


def _redirect(location: str) -> Response:
    return Response(303, b"", "text/plain", (("Location", location),))


def _read(environ: Environ) -> bytes:
    length = environ.get("CONTENT_LENGTH") or "0"
    size = int(length) if length.isdigit() else 0
    return bytes(environ["wsgi.input"].read(min(size, MAX_BODY_BYTES)))


def _json_body(environ: Environ) -> dict[str, Any]:
    raw = _read(environ)
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise Invalid("the body is not JSON") from None
    if not isinstance(data, dict):
        raise Invalid("the body must be a JSON object")
    return data


def _form(environ: Environ) -> dict[str, str]:
    fields = parse_qs(_read(environ).decode("utf-8", "replace"))
    return {key: values[-1] for key, values in fields.items()}


def product_json(product: Product) -> dict[str, Any]:
    return {
        "id": product.id,
        "gid": product.gid,
        "title": product.title,
        "handle": product.handle,
        "variants": [
            {"id": v.id, "gid": v.gid, "title": v.title, "price": str(v.price), "sku": v.sku}
            for v in product.variants
        ],
    }


def shop_json(shop: Shop) -> dict[str, Any]:
    return {
        "domain": shop.domain,
        "name": shop.name,
        "plan": shop.plan,
        "installed": shop.installed,
        "token_valid": shop.token_valid,
        "webhook_url": shop.webhook_url,
        "read_all_orders": shop.read_all_orders,
        "orders": len(shop.orders),
        "products": len(shop.products),
    }


def delivery_json(delivery: Delivery) -> dict[str, Any]:
    return {
        "topic": delivery.topic,
        "shop": delivery.shop,
        "order_id": delivery.order_id,
        "webhook_id": delivery.webhook_id,
        "state": delivery.state,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "errors": delivery.errors,
    }


def _lines(value: Any) -> list[tuple[int, int]]:
    if not isinstance(value, list):
        raise Invalid("lines must be a list of [id, quantity] pairs")
    try:
        return [(int(first), int(second)) for first, second in value]
    except (TypeError, ValueError):
        raise Invalid("lines must be a list of [id, quantity] pairs") from None


class DevStoreApp:
    """The WSGI application. `state_path`: snapshot the store there after every change."""

    def __init__(self, store: DevStore, *, state_path: Path | None = None) -> None:
        self.store = store
        self.state_path = state_path

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        try:
            response = self.route(environ)
        except NotFound as exc:
            response = _json(404, {"error": str(exc)})
        except (Invalid, ValueError) as exc:
            response = _json(400, {"error": str(exc)})
        reason = REASONS.get(response.status, "Unknown")
        headers = [("Content-Type", response.content_type), *response.headers]
        headers.append(("Content-Length", str(len(response.body))))
        start_response(f"{response.status} {reason}", headers)
        return [response.body]

    def route(self, environ: Environ) -> Response:
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO") or "/"
        query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        match = GRAPHQL_PATH.match(path)
        if match:
            if method != "POST":
                return _json(405, {"errors": "Method Not Allowed"}, (("Allow", "POST"),))
            return self.graphql(environ, match.group(1))
        if path.startswith("/admin/oauth/") or path.startswith("/admin/apps/"):
            return oauth_route(self, method, path, query, environ)
        if path.startswith("/admin/api/"):
            return _json(404, {"errors": "Not Found"})
        if path.startswith("/_devstore/"):
            response = self.control(method, path.removeprefix("/_devstore/").strip("/"), environ)
            if method == "POST" and self.state_path is not None:
                self.store.save(self.state_path)
            return response
        if method == "GET" and path == "/":
            return Response(
                200, pages.storefront(self.store, query.get("shop")), "text/html; charset=utf-8"
            )
        if method == "GET" and path == "/admin":
            return Response(
                200, pages.admin(self.store, query.get("shop")), "text/html; charset=utf-8"
            )
        if method == "GET" and (found := re.match(r"^/orders/(\d+)$", path)):
            shop = self._shop_param(query.get("shop"))
            order = self.store.order(shop=shop.domain, order_id=int(found.group(1)))
            return Response(200, pages.thanks(shop, order), "text/html; charset=utf-8")
        if method == "POST" and path in ("/checkout", "/admin/action"):
            response = self.form(path, _form(environ))
            if self.state_path is not None:
                self.store.save(self.state_path)
            return response
        return Response(404, b"Not Found", "text/plain; charset=utf-8")

    def _shop_param(self, domain: str | None) -> Shop:
        if domain:
            return self.store.shop(domain)
        with self.store.lock:
            if not self.store.shops:
                raise NotFound("the devstore has no shop yet")
            return next(iter(self.store.shops.values()))

    # --- Admin GraphQL --------------------------------------------------------------------------

    def graphql(self, environ: Environ, version: str) -> Response:
        from devstore.admin_api import admin_graphql  # graphql-core loads only when asked

        headers = (("X-Shopify-API-Version", version), ("X-Request-Id", str(uuid.uuid4())))
        token = environ.get("HTTP_X_SHOPIFY_ACCESS_TOKEN", "")
        named = environ.get("HTTP_X_SHOPIFY_SHOP_DOMAIN", "")
        host = (environ.get("HTTP_HOST") or "").split(":")[0].lower()
        if not named and host.endswith(".myshopify.com"):
            named = host
        token_shop = self.store.shop_for_token(token) if token else None
        shop = token_shop
        if named:
            try:
                shop = self.store.shop(named)
            except NotFound:
                return _json(404, {"errors": "Not Found"}, headers)
        if shop is not None:
            failure = self.store.failure_take(shop)
            if failure is not None:
                extra = (("Retry-After", RETRY_AFTER_SECONDS),) if failure == 429 else ()
                return _json(failure, {"errors": FAILURE_BODIES[failure]}, headers + extra)
        if (
            token_shop is None
            or not self.store.oauth.token_valid(token, token_shop)
            or shop is not token_shop
        ):
            return _json(401, {"errors": INVALID_TOKEN}, headers)
        raw = _read(environ)
        content_type = (environ.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()
        body: Any
        if content_type == "application/graphql":
            body = {"query": raw.decode("utf-8", "replace")}
        else:
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                return _json(
                    400, {"errors": {"query": "Required parameter missing or invalid"}}, headers
                )
        status, answer = admin_graphql(self.store, shop=token_shop, body=body)
        return _json(status, answer, headers)

    # --- /_devstore/ control endpoints ----------------------------------------------------------

    def control(self, method: str, path: str, environ: Environ) -> Response:
        store = self.store
        if method == "GET":
            query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
            if path == "shops":
                with store.lock:
                    return _json(200, [shop_json(s) for s in store.shops.values()])
            if path == "products":
                shop = self._shop_param(query.get("shop"))
                with store.lock:
                    return _json(200, [product_json(p) for p in shop.products.values()])
            if path == "orders":
                shop = self._shop_param(query.get("shop"))
                with store.lock:
                    return _json(200, [order_payload(o, shop) for o in shop.orders.values()])
            if path == "webhooks":
                with store.lock:
                    return _json(200, [delivery_json(d) for d in store.webhooks.deliveries])
            if path == "cost":
                with store.lock:
                    return _json(200, store.cost_log)
            return _json(404, {"error": f"no GET /_devstore/{path}"})
        if method != "POST":
            return _json(405, {"error": "GET or POST"}, (("Allow", "GET, POST"),))
        data = _json_body(environ)
        order_action = re.match(r"^orders/(\d+)/(paid|cancel|refunds)$", path)
        if order_action:
            return self._order_action(data, int(order_action.group(1)), order_action.group(2))
        handler = {
            "shops": self._shop_create,
            "products": self._product_create,
            "orders": self._order_create,
            "orders/bulk": self._orders_bulk,
            "webhooks/mode": lambda d: self._webhook_mode(d.get("mode", "")),
            "webhooks/flush": lambda d: _json(200, {"flushed": store.webhooks.flush()}),
            "webhooks/drop_next": lambda d: self._drop_next(d),
            "fail_next": self._fail_next,
            "token_revoke": lambda d: self._shop_call(store.token_revoke, d),
            "uninstall": lambda d: self._shop_call(store.shop_uninstall, d),
            "session_token": lambda d: _json(
                200,
                {
                    "token": store.oauth.session_token(
                        shop=self._shop_param(d.get("shop")).domain,
                        sub=str(d.get("sub", "1")),
                        lifetime=float(d["lifetime"]) if "lifetime" in d else None,
                    )
                },
            ),
            "oauth": lambda d: _json(200, oauth_configure(store, d)),
            "install": lambda d: _json(
                200,
                shop_json(
                    store.shop_install(
                        shop=str(d.get("shop", "")), access_token=str(d.get("access_token", ""))
                    )
                ),
            ),
        }.get(path)
        if handler is None:
            return _json(404, {"error": f"no POST /_devstore/{path}"})
        return handler(data)

    def _shop_create(self, data: dict[str, Any]) -> Response:
        shop = self.store.shop_create(
            domain=str(data.get("domain", "")),
            name=str(data.get("name", "")),
            plan=str(data.get("plan", "standard")),
            access_token=str(data.get("access_token", "")),
            app_secret=str(data.get("app_secret", "")),
            webhook_url=data.get("webhook_url") or None,
            read_all_orders=bool(data.get("read_all_orders", False)),
        )
        return _json(201, shop_json(shop))

    def _product_create(self, data: dict[str, Any]) -> Response:
        variants = data.get("variants")
        product = self.store.product_create(
            shop=str(data.get("shop", "")),
            title=str(data.get("title", "")),
            variants=[str(v) for v in variants] if variants else None,
            price=str(data.get("price", "10.00")),
        )
        return _json(201, product_json(product))

    def _order_create(self, data: dict[str, Any]) -> Response:
        shop = self.store.shop(str(data.get("shop", "")))
        if "lines" in data:
            lines = _lines(data["lines"])
        else:
            lines = [(self._variant_for(shop, data), int(data.get("quantity", 1)))]
        status = data.get("financial_status") or ("paid" if data.get("paid", True) else "pending")
        order = self.store.order_create(
            shop=shop.domain,
            lines=lines,
            financial_status=str(status),
            email=str(data.get("email", "jon@example.com")),
            first_name=str(data.get("first_name", "Jon")),
            last_name=str(data.get("last_name", "Snow")),
            test=bool(data.get("test", False)),
        )
        return _json(201, order_payload(order, shop))

    def _variant_for(self, shop: Shop, data: dict[str, Any]) -> int:
        """The variant an order of `product` (and maybe `variant`) buys: the first by default."""
        if data.get("variant"):
            return int(str(data["variant"]).rsplit("/", 1)[-1])
        if not data.get("product"):
            raise Invalid("give lines, or a product (and maybe a variant)")
        product_id = int(str(data["product"]).rsplit("/", 1)[-1])
        product = shop.products.get(product_id)
        if product is None:
            raise NotFound(f"no product {product_id} in {shop.domain}")
        return product.variants[0].id

    def _orders_bulk(self, data: dict[str, Any]) -> Response:
        orders = self.store.orders_bulk_create(
            shop=str(data.get("shop", "")),
            count=int(data.get("count", 0)),
            paid_ratio=float(data.get("paid_ratio", 1.0)),
            lines_per_order=int(data.get("lines_per_order", 1)),
            webhooks=bool(data.get("webhooks", False)),
            days=float(data.get("days", 30)),
        )
        return _json(201, {"created": len(orders)})

    def _order_action(self, data: dict[str, Any], order_id: int, action: str) -> Response:
        shop = self.store.shop(str(data.get("shop", "")))
        result: Order | Refund
        if action == "paid":
            result = self.store.order_mark_paid(shop=shop.domain, order_id=order_id)
        elif action == "cancel":
            result = self.store.order_cancel(shop=shop.domain, order_id=order_id)
        else:
            lines = _lines(data["lines"]) if data.get("lines") else None
            result = self.store.refund_create(shop=shop.domain, order_id=order_id, lines=lines)
            order = self.store.order(shop=shop.domain, order_id=order_id)
            return _json(201, refund_payload(result, order, shop))
        return _json(200, order_payload(result, shop))

    def _webhook_mode(self, mode: str) -> Response:
        self.store.webhooks.set_mode(mode)
        return _json(200, {"mode": mode})

    def _drop_next(self, data: dict[str, Any]) -> Response:
        self.store.webhooks.drop_next(int(data.get("count", 1)))
        return _json(200, {"drop_next": int(data.get("count", 1))})

    def _fail_next(self, data: dict[str, Any]) -> Response:
        self.store.fail_next(
            shop=str(data.get("shop", "")),
            count=int(data.get("count", 1)),
            status=int(data.get("status", 500)),
        )
        return _json(200, {"ok": True})

    def _shop_call(self, action: Callable[..., None], data: dict[str, Any]) -> Response:
        action(shop=str(data.get("shop", "")))
        return _json(200, shop_json(self.store.shop(str(data.get("shop", "")))))

    # --- the storefront and admin forms ---------------------------------------------------------

    def form(self, path: str, fields: dict[str, str]) -> Response:
        shop = self._shop_param(fields.get("shop"))
        if path == "/checkout":
            quantity = int(fields.get("quantity") or 1)
            order = self.store.order_create(
                shop=shop.domain,
                lines=[(int(fields.get("variant", "0")), quantity)],
                financial_status="paid" if fields.get("pay") == "now" else "pending",
                email=fields.get("email", "").strip(),
                first_name=fields.get("first_name", "").strip(),
                last_name=fields.get("last_name", "").strip(),
                test=fields.get("test") == "on",
            )
            return _redirect(f"/orders/{order.id}?shop={shop.domain}")
        order_id = int(fields.get("order", "0") or 0)
        action = fields.get("action")
        if action == "paid":
            self.store.order_mark_paid(shop=shop.domain, order_id=order_id)
        elif action == "refund":
            self.store.refund_create(shop=shop.domain, order_id=order_id)
        elif action == "cancel":
            self.store.order_cancel(shop=shop.domain, order_id=order_id)
        elif action == "mode":
            self.store.webhooks.set_mode(fields.get("mode", "deliver"))
        elif action == "flush":
            self.store.webhooks.flush()
        else:
            raise Invalid(f"unknown action {action!r}")
        return _redirect(f"/admin?shop={shop.domain}")


# --- OAuth, the token endpoint and the admin frame (devstore/oauth.py) --------------------------


def oauth_configure(store: DevStore, data: dict[str, Any]) -> dict[str, Any]:
    """`POST /_devstore/oauth`: the app's client id, its granted scopes, the URL the frame loads."""
    oauth = store.oauth
    with store.lock:
        if "client_id" in data:
            oauth.client_id = str(data["client_id"])
        if "scopes" in data:
            oauth.scopes = str(data["scopes"])
        if "app_url" in data:
            oauth.app_url = str(data["app_url"])
        return {"client_id": oauth.client_id, "scopes": oauth.scopes, "app_url": oauth.app_url}


def oauth_route(
    app: DevStoreApp, method: str, path: str, query: dict[str, str], environ: Environ
) -> Response:
    """The authorize page (approves at once), the token endpoint, and the admin page framing the
    app with a fresh session token. `shop=` names the shop when the Host header cannot."""
    oauth = app.store.oauth
    if method == "GET" and path == "/admin/oauth/authorize":
        shop = app._shop_param(query.get("shop"))
        return Response(
            302, b"", "text/plain", (("Location", oauth.authorize(shop=shop.domain, query=query)),)
        )
    if method == "POST" and path == "/admin/oauth/access_token":
        content_type = (environ.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()
        body: dict[str, Any] = (
            _json_body(environ) if content_type == "application/json" else _form(environ)
        )
        try:
            answer = oauth.token(body)
        except OAuthError as error:
            status = 401 if error.error == "invalid_client" else 400
            return _json(status, {"error": error.error, "error_description": error.description})
        if app.state_path is not None:
            app.store.save(app.state_path)
        return _json(200, answer)
    if method == "GET" and re.match(r"^/admin/apps/[\w.-]+$", path):
        shop = app._shop_param(query.get("shop"))
        src = oauth.frame_url(shop=shop.domain)
        return Response(200, pages.app_frame(shop, src), "text/html; charset=utf-8")
    return Response(404, b"Not Found", "text/plain; charset=utf-8")


class _Server(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class DevStoreServer:
    """A running devstore: `url`, `store`, `stop()`."""

    def __init__(self, store: DevStore, httpd: _Server, state_path: Path | None) -> None:
        self.store = store
        self._httpd = httpd
        self._state_path = state_path
        host, port = httpd.server_address[:2]
        self.host = str(host)
        self.port = int(port)
        self.url = f"http://{self.host}:{self.port}"
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.name = f"devstore-http-{self.port}"
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
        if self._state_path is not None:
            self.store.save(self._state_path)

    def wait(self) -> None:
        """Block until stop() (for the CLI's foreground server)."""
        while self._thread.is_alive():
            self._thread.join(timeout=0.5)


def devstore_serve(
    store: DevStore,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    state_path: str | Path | None = None,
    log: bool = False,
) -> DevStoreServer:
    """Serve `store` over HTTP from a background thread; port 0 picks a free port."""
    path = Path(state_path) if state_path else None
    httpd = make_server(
        host,
        port,
        DevStoreApp(store, state_path=path),
        server_class=_Server,
        handler_class=WSGIRequestHandler if log else _QuietHandler,
    )
    return DevStoreServer(store, httpd, path)


__all__ = ["DevStoreApp", "DevStoreError", "DevStoreServer", "devstore_serve"]
