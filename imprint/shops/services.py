"""Shops: add one with its access token, change its download settings."""

from __future__ import annotations

import enum
import re

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from imprint.shops.models import MAX_DOWNLOADS_LIMIT, MAX_EXPIRY_DAYS, FilenameMode, Shop

SHOP_DOMAIN = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9-]*\.myshopify\.com$")


class ShopInvalid(ValueError):
    """A shop cannot be added with these values (bad domain, empty token, bad email)."""


class ShopSettingsInvalid(ValueError):
    """A download setting out of its range; the message says what is allowed."""


class Unchanged(enum.Enum):
    """Leave a setting as it is (None already means unlimited)."""

    UNCHANGED = "unchanged"


UNCHANGED = Unchanged.UNCHANGED


def shop_domain_clean(domain: str) -> str:
    """The canonical form of a store's domain, `name.myshopify.com` in lower case."""
    cleaned = domain.strip().lower()
    if not SHOP_DOMAIN.fullmatch(cleaned):
        raise ShopInvalid(f"{domain!r} is not a Shopify store domain: expected NAME.myshopify.com")
    return cleaned


def shop_add(*, domain: str, token: str, name: str | None = None, email: str | None = None) -> Shop:
    """Add a store with its own (custom app) access token, or update the token of a known one.
    Adding an uninstalled store again reinstalls it; its name and email stay unless given."""
    domain = shop_domain_clean(domain)
    token = token.strip()
    if not token:
        raise ShopInvalid("the access token is empty")
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise ShopInvalid(f"{email!r} is not an email address") from None
    changes: dict[str, object] = {"access_token": token, "uninstalled_at": None}
    if name:
        changes["name"] = name.strip()[:255]
    if email:
        changes["email"] = email
    shop, _ = Shop.objects.update_or_create(
        domain=domain,
        defaults=changes,
        create_defaults={"name": domain.removesuffix(".myshopify.com"), "email": "", **changes},
    )
    return shop


def _limit(value: int | None, *, label: str, maximum: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise ShopSettingsInvalid(
            f"{label} must be between 1 and {maximum}, or unlimited (got {value})"
        )
    return value


def shop_settings_update(
    *,
    shop: Shop,
    expiry_days: int | Unchanged | None = UNCHANGED,
    max_downloads: int | Unchanged | None = UNCHANGED,
    filename_mode: str | Unchanged = UNCHANGED,
) -> Shop:
    """Change the store's download settings; None is unlimited, UNCHANGED leaves one alone.
    New settings apply to grants issued from now on: existing grants keep their limits.
    Everything is checked before anything changes, so a bad value changes nothing."""
    changes: dict[str, object] = {}
    if not isinstance(expiry_days, Unchanged):
        changes["download_expiry_days"] = _limit(
            expiry_days, label="Download expiry (days)", maximum=MAX_EXPIRY_DAYS
        )
    if not isinstance(max_downloads, Unchanged):
        changes["download_max"] = _limit(
            max_downloads, label="Maximum downloads", maximum=MAX_DOWNLOADS_LIMIT
        )
    if not isinstance(filename_mode, Unchanged):
        if filename_mode not in FilenameMode.values:
            allowed = " or ".join(FilenameMode.values)
            raise ShopSettingsInvalid(
                f"Download filename must be {allowed} (got {filename_mode!r})"
            )
        changes["filename_mode"] = filename_mode
    for field, value in changes.items():
        setattr(shop, field, value)
    if changes:
        shop.save(update_fields=list(changes))
    return shop
