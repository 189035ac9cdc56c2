"""Talking to a devstore over HTTP as Imprint does."""

from __future__ import annotations

from typing import Any

import httpx

API = "/admin/api/2026-10/graphql.json"


def gql(
    url: str,
    token: str,
    query: str,
    variables: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {"query": query}
    if variables:
        body["variables"] = variables
    return httpx.post(
        url + API,
        json=body,
        headers={"X-Shopify-Access-Token": token, **(headers or {})},
        timeout=10,
    )


def control(url: str, path: str, **body: Any) -> httpx.Response:
    return httpx.post(f"{url}/_devstore/{path}", json=body, timeout=10)
