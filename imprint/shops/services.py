"""Shops: add one with its access token, keep its tokens (encrypted), uninstall it, change its
settings."""

from __future__ import annotations

import datetime as dt
import enum
import io
import re
from typing import Protocol

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from imprint.shops.crypto import token_decrypt, token_encrypt, token_reencrypt
from imprint.shops.models import (
    MAX_DOWNLOADS_LIMIT,
    MAX_EXPIRY_DAYS,
    FilenameMode,
    ProductSettings,
    Shop,
)


class Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


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
    changes: dict[str, object] = {}
    if name:
        changes["name"] = name.strip()[:255]
    if email:
        changes["email"] = email
    with transaction.atomic():
        shop, _ = Shop.objects.update_or_create(
            domain=domain,
            defaults=changes,
            create_defaults={"name": domain.removesuffix(".myshopify.com"), "email": "", **changes},
        )
        # A custom app's `shpat_` token never expires and comes with no refresh token.
        shop_token_set(shop=shop, access_token=token)
    return shop


# --- access tokens -----------------------------------------------------------------------------


def shop_token_set(
    *,
    shop: Shop,
    access_token: str,
    expires_at: dt.datetime | None = None,
    refresh_token: str | None = None,
    refresh_expires_at: dt.datetime | None = None,
    scopes: str | None = None,
) -> None:
    """Store the store's new access token (encrypted), and install it again if it was uninstalled.

    `expires_at` None is a token that never expires. `refresh_token` None clears the refresh token
    (a new access token without one makes an old refresh token useless); `scopes` None keeps the
    recorded scopes.
    """
    if not access_token:
        raise ShopInvalid("the access token is empty")
    shop.access_token_encrypted = token_encrypt(access_token)
    shop.access_token_expires_at = expires_at
    shop.refresh_token_encrypted = token_encrypt(refresh_token or "")
    shop.refresh_token_expires_at = refresh_expires_at if refresh_token else None
    shop.uninstalled_at = None
    fields = [
        "access_token_encrypted",
        "access_token_expires_at",
        "refresh_token_encrypted",
        "refresh_token_expires_at",
        "uninstalled_at",
    ]
    if scopes is not None:
        shop.scopes = scopes_normalize(scopes)
        fields.append("scopes")
    shop.save(update_fields=fields)


def shop_token_get(*, shop: Shop) -> str:
    """The store's access token, decrypted; "" when it has none (never set, or uninstalled)."""
    return token_decrypt(shop.access_token_encrypted)


def shop_refresh_token_get(*, shop: Shop) -> str:
    """The store's refresh token, decrypted; "" when it has none."""
    return token_decrypt(shop.refresh_token_encrypted)


def scopes_normalize(scopes: str | list[str]) -> str:
    """Scopes as Imprint records them: sorted, comma-separated, without repeats."""
    items = scopes.split(",") if isinstance(scopes, str) else scopes
    return ",".join(sorted({item.strip() for item in items if item.strip()}))


def shop_scopes_set(*, shop: Shop, scopes: str | list[str]) -> None:
    Shop.objects.filter(pk=shop.pk).update(scopes=scopes_normalize(scopes))


def shop_uninstall(*, shop: Shop, now: dt.datetime | None = None) -> bool:
    """Mark the store uninstalled and forget its tokens (Shopify has revoked them). Its data stays
    until Shopify's shop/redact. False if it was uninstalled already (a repeated delivery)."""
    updated = Shop.objects.filter(pk=shop.pk, uninstalled_at__isnull=True).update(
        uninstalled_at=now or timezone.now(),
        access_token_encrypted="",
        access_token_expires_at=None,
        refresh_token_encrypted="",
        refresh_token_expires_at=None,
    )
    return bool(updated)


def tokens_reencrypt() -> int:
    """Re-encrypt every stored token under the newest key; the number of stores rewritten.
    Afterwards the older keys can be dropped from IMPRINT_ENCRYPTION_KEYS."""
    count = 0
    for shop_id in Shop.objects.order_by("pk").values_list("pk", flat=True):
        with transaction.atomic():
            shop = (
                Shop.objects.select_for_update()
                .only("pk", "access_token_encrypted", "refresh_token_encrypted")
                .get(pk=shop_id)
            )
            if not shop.access_token_encrypted and not shop.refresh_token_encrypted:
                continue
            Shop.objects.filter(pk=shop.pk).update(
                access_token_encrypted=token_reencrypt(shop.access_token_encrypted),
                refresh_token_encrypted=token_reencrypt(shop.refresh_token_encrypted),
            )
            count += 1
    return count


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


# --- email branding ----------------------------------------------------------------------------

EMAIL_PLACEHOLDERS = ("first_name", "order_name", "shop_name")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
MIN_BUTTON_CONTRAST = 4.5  # WCAG AA for the white button text on the accent colour
LOGO_MAX_BYTES = 1024 * 1024  # a logo in an email: anything bigger is slow to open on a phone
LOGO_TYPES = {"image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif"}


class BrandingInvalid(ValueError):
    """An email branding value the email cannot use; `field` names the form field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def placeholders_check(text: str, *, field: str) -> str:
    """`text` if every {placeholder} in it is one Imprint fills in."""
    for name in _PLACEHOLDER.findall(text):
        if name not in EMAIL_PLACEHOLDERS:
            allowed = ", ".join("{" + p + "}" for p in EMAIL_PLACEHOLDERS)
            raise BrandingInvalid(field, f"{{{name}}} is not a placeholder. Use {allowed}.")
    if text.count("{") != text.count("}"):
        raise BrandingInvalid(field, "A { or } is missing: write placeholders like {first_name}.")
    return text


def _luminance(color: str) -> float:
    channels = []
    for i in (1, 3, 5):
        c = int(color[i : i + 2], 16) / 255
        channels.append(c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4)
    r, g, b = channels
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_with_white(color: str) -> float:
    return 1.05 / (_luminance(color) + 0.05)


def shop_branding_update(
    *,
    shop: Shop,
    sender_name: str,
    reply_to: str,
    accent_color: str,
    subject: str,
    greeting: str,
    footer: str,
) -> Shop:
    """Change the store's email branding. Blank text fields fall back to Imprint's defaults.
    Everything is checked before anything changes."""
    sender_name = " ".join(sender_name.split())  # a newline in a From header is an injection
    reply_to = reply_to.strip()
    if reply_to:
        try:
            validate_email(reply_to)
        except ValidationError:
            raise BrandingInvalid("reply_to", f"“{reply_to}” is not an email address.") from None
    if not _HEX_COLOR.match(accent_color):
        raise BrandingInvalid("accent_color", "Use a colour like #1a1a1a.")
    if contrast_with_white(accent_color) < MIN_BUTTON_CONTRAST:
        raise BrandingInvalid(
            "accent_color",
            "This colour is too light: white button text on it would be hard to read. "
            "Choose a darker one.",
        )
    subject = " ".join(placeholders_check(subject, field="subject").split())
    greeting = placeholders_check(greeting.strip(), field="greeting")
    footer = placeholders_check(footer.strip(), field="footer")
    shop.email_sender_name = sender_name[:100]
    shop.email_reply_to = reply_to
    shop.email_accent_color = accent_color.lower()
    shop.email_subject = subject[:200]
    shop.email_greeting = greeting[:200]
    shop.email_footer = footer[:1000]
    shop.save(
        update_fields=[
            "email_sender_name",
            "email_reply_to",
            "email_accent_color",
            "email_subject",
            "email_greeting",
            "email_footer",
        ]
    )
    return shop


def shop_logo_set(*, shop: Shop, source: Readable, content_type: str) -> Shop:
    """Store a new logo for the store's emails (PNG, JPEG or GIF up to 1 MB), replacing the old."""
    from imprint.catalog.storage import storage_delete, storage_name_new, storage_save

    suffix = LOGO_TYPES.get(content_type)
    if suffix is None:
        raise BrandingInvalid("logo", "The logo must be a PNG, JPEG or GIF image.")
    data = source.read(LOGO_MAX_BYTES + 1)
    if len(data) > LOGO_MAX_BYTES:
        raise BrandingInvalid("logo", "The logo is larger than 1 MB. Use a smaller image.")
    if not _image_signature_ok(data, content_type):
        raise BrandingInvalid("logo", "This file is not a PNG, JPEG or GIF image.")
    stored = storage_save(
        storage_name_new(shop_id=shop.pk, original_name=f"logo{suffix}"), io.BytesIO(data)
    )
    old = shop.email_logo
    shop.email_logo = stored
    shop.save(update_fields=["email_logo"])
    if old:
        storage_delete(old)
    return shop


def shop_logo_remove(*, shop: Shop) -> Shop:
    from imprint.catalog.storage import storage_delete

    old = shop.email_logo
    if old:
        shop.email_logo = ""
        shop.save(update_fields=["email_logo"])
        storage_delete(old)
    return shop


def _image_signature_ok(data: bytes, content_type: str) -> bool:
    # The browser's content type is the client's claim; the first bytes are the file's.
    signatures = {
        "image/png": (b"\x89PNG\r\n\x1a\n",),
        "image/jpeg": (b"\xff\xd8\xff",),
        "image/gif": (b"GIF87a", b"GIF89a"),
    }
    return data.startswith(signatures[content_type])


# --- per-product limits ------------------------------------------------------------------------


def product_settings_set(
    *, shop: Shop, product_id: int, expiry_days: int | None, max_downloads: int | None
) -> ProductSettings:
    """A product's own download limits (None is unlimited), used for its new grants."""
    from imprint.catalog.services import MAX_SHOPIFY_ID

    if not 1 <= product_id <= MAX_SHOPIFY_ID:
        raise ShopSettingsInvalid(f"{product_id} is not a Shopify product id")
    expiry = _limit(expiry_days, label="Download expiry (days)", maximum=MAX_EXPIRY_DAYS)
    maximum = _limit(max_downloads, label="Maximum downloads", maximum=MAX_DOWNLOADS_LIMIT)
    settings, _ = ProductSettings.objects.update_or_create(
        shop=shop,
        product_id=product_id,
        defaults={"expiry_days": expiry, "max_downloads": maximum},
    )
    return settings


def product_settings_clear(*, shop: Shop, product_id: int) -> bool:
    """The product uses the store's limits again."""
    deleted, _ = ProductSettings.objects.filter(shop=shop, product_id=product_id).delete()
    return bool(deleted)
