"""shopify.app.toml says what the code does: the same topics, scopes and API version."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

from imprint.shopify.webhooks import HANDLED_TOPICS, PRIVACY_TOPICS

ROOT = Path(__file__).resolve().parent.parent.parent
CONFIG = tomllib.loads((ROOT / "shopify.app.toml").read_text())


def _declared() -> tuple[set[str], set[str]]:
    topics: set[str] = set()
    compliance: set[str] = set()
    for subscription in CONFIG["webhooks"]["subscriptions"]:
        assert subscription["uri"] == "/webhooks/shopify"
        topics.update(subscription.get("topics", []))
        compliance.update(subscription.get("compliance_topics", []))
    return topics, compliance


def test_every_declared_topic_has_a_handler_and_every_handled_topic_is_declared() -> None:
    topics, compliance = _declared()

    assert topics | compliance == HANDLED_TOPICS
    assert (
        compliance
        == PRIVACY_TOPICS
        == {"customers/data_request", "customers/redact", "shop/redact"}
    )
    assert topics & compliance == set()


def test_the_api_version_is_the_default_of_shopify_api_version() -> None:
    # The default as written in settings.py, not the value of this run's environment.
    tree = ast.parse((ROOT / "imprint" / "settings.py").read_text())
    defaults = [
        node.value.args[1].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "SHOPIFY_API_VERSION" for t in node.targets)
        and isinstance(node.value, ast.Call)
    ]

    assert defaults == [CONFIG["webhooks"]["api_version"]] == ["2026-10"]


def test_the_app_asks_only_for_the_scopes_it_uses() -> None:
    assert CONFIG["access_scopes"]["scopes"] == "read_orders,read_products"
    assert CONFIG["embedded"] is True
    assert CONFIG["application_url"].startswith("https://")
    assert all(url.startswith("https://") for url in CONFIG["auth"]["redirect_urls"])
