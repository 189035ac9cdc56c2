"""The demo store: a shop with a few digital products, the same every time."""

from __future__ import annotations

from devstore.models import Product, Shop
from devstore.store import DevStore

DEMO_DOMAIN = "demo.myshopify.com"
DEMO_TOKEN = "shpat_devstore_demo_0000000000000000"


def demo_seed(
    store: DevStore,
    *,
    app_secret: str,
    webhook_url: str | None,
    access_token: str = DEMO_TOKEN,
    plan: str = "standard",
    domain: str = DEMO_DOMAIN,
) -> tuple[Shop, list[Product]]:
    """Create the demo shop and its products (or return them if they exist already)."""
    with store.lock:
        if domain in store.shops:
            shop = store.shops[domain]
            return shop, list(shop.products.values())
        shop = store.shop_create(
            domain=domain,
            name="Demo Store",
            plan=plan,
            access_token=access_token,
            app_secret=app_secret,
            webhook_url=webhook_url,
            email="owner@demo.example",
        )
        products = [
            store.product_create(
                shop=domain, title="Snowboard Guide", variants=["PDF", "EPUB"], price="12.00"
            ),
            store.product_create(
                shop=domain, title="Ünïcode Sound Pack — 東京 Nights", price="25.00"
            ),
            # A product the merchant sells without a file: Imprint must leave its orders alone.
            store.product_create(shop=domain, title="Gift Wrapping", price="3.00"),
        ]
        return shop, products
