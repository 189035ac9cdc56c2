from __future__ import annotations

from imprint.shopify.products import products_search, products_search_query
from tests.web.conftest import shopify_shop


def test_search_query_escapes_shopifys_syntax():
    assert products_search_query("") is None
    assert products_search_query("  snow  board ") == "title:*snow* title:*board*"
    assert products_search_query('a:b "c"') == 'title:*a\\:b* title:*\\"c\\"*'


def test_products_search_returns_products_and_variants_from_shopify(shop_a, shopify):
    shopify_shop(shopify, shop_a)
    course = shopify.product_create(
        shop=shop_a.domain, title="Snowboard Course", variants=["Basic", "Pro"]
    )
    shopify.product_create(shop=shop_a.domain, title="Ski Wax")
    (found,) = products_search(shop=shop_a, query="snowboard")
    assert (found.id, found.title) == (course.id, "Snowboard Course")
    assert [(v.id, v.title) for v in found.variants] == [(v.id, v.title) for v in course.variants]
    assert not found.has_only_default_variant
    assert [p.title for p in products_search(shop=shop_a, query="")] == [
        "Ski Wax",
        "Snowboard Course",
    ]
