"""The store's products, as the Files page's product picker lists them (Admin GraphQL `products`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from imprint.shopify.admin import ShopifyResponseInvalid
from imprint.shops.models import Shop

MAX_FIRST = 25  # with 25 variants each: about 700 of the 1,000 points one query may cost
VARIANTS_FIRST = 25  # a product with more variants is rare; the picker offers the first 25
_GID = re.compile(r"^gid://shopify/(Product|ProductVariant)/(\d+)$")
# Characters with a meaning in Shopify's search syntax: escaped so a title search stays one term.
_SEARCH_SPECIAL = re.compile(r'([\\:"()*\'])')

PRODUCTS_QUERY = f"""
query ImprintProducts($first: Int!, $query: String) {{
  products(first: $first, query: $query, sortKey: TITLE) {{
    nodes {{
      id
      title
      variants(first: {VARIANTS_FIRST}) {{ nodes {{ id title }} }}
    }}
  }}
}}
"""


@dataclass(frozen=True)
class VariantInfo:
    id: int
    title: str


@dataclass(frozen=True)
class ProductInfo:
    id: int
    title: str
    variants: list[VariantInfo]

    @property
    def has_only_default_variant(self) -> bool:
        # Shopify gives every product one variant, titled "Default Title", when it has no options.
        return len(self.variants) <= 1


def _id(value: Any, kind: str) -> int:
    match = _GID.match(value) if isinstance(value, str) else None
    if match is None or match.group(1) != kind:
        raise ShopifyResponseInvalid(f"expected a {kind} gid, got {value!r}")
    return int(match.group(2))


def products_search_query(text: str) -> str | None:
    """Shopify's search syntax for 'title contains `text`' (None: every product)."""
    words = text.split()
    if not words:
        return None
    escaped = [_SEARCH_SPECIAL.sub(r"\\\1", word) for word in words[:5]]
    return " ".join(f"title:*{word}*" for word in escaped)


def products_search(*, shop: Shop, query: str, first: int = 20) -> list[ProductInfo]:
    """Products whose title contains `query` (all when empty), by title, with their variants.
    Raises a ShopifyError when Shopify cannot be asked."""
    first = max(1, min(first, MAX_FIRST))
    from imprint.shopify.oauth import admin_client_for  # refreshes an expiring token

    with admin_client_for(shop=shop) as client:
        result = client.query(
            PRODUCTS_QUERY, {"first": first, "query": products_search_query(query)}
        )
    try:
        nodes = result.data["products"]["nodes"]
        return [
            ProductInfo(
                id=_id(node["id"], "Product"),
                title=str(node["title"]),
                variants=[
                    VariantInfo(id=_id(v["id"], "ProductVariant"), title=str(v["title"]))
                    for v in node["variants"]["nodes"]
                ],
            )
            for node in nodes
        ]
    except (KeyError, TypeError) as exc:
        raise ShopifyResponseInvalid(f"unexpected products answer: {exc!r}") from None
