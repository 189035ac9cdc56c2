from __future__ import annotations

from django.db import models

DEFAULT_EXPIRY_DAYS = 30
DEFAULT_MAX_DOWNLOADS = 5
MAX_EXPIRY_DAYS = 3650  # ten years: anything longer is "unlimited", which is its own setting
MAX_DOWNLOADS_LIMIT = 1000
DEFAULT_ACCENT_COLOR = "#1a1a1a"  # the delivery email's button colour before any branding


class FilenameMode(models.TextChoices):
    ORIGINAL = "original", "Original filename"
    PRODUCT = "product", "Product name"


class Shop(models.Model):
    """A Shopify store that uses Imprint: the tenant every other row belongs to."""

    domain = models.CharField(max_length=255, unique=True)  # example.myshopify.com
    name = models.CharField(max_length=255)
    email = models.EmailField(blank=True)  # the store's contact address: Reply-To of its emails
    # Tokens are stored encrypted (imprint/shops/crypto.py) and read through
    # shop_token_get/shop_token_set only. Blank: no token (never installed, or uninstalled).
    access_token_encrypted = models.TextField(blank=True)
    access_token_expires_at = models.DateTimeField(null=True, blank=True)  # None: never expires
    refresh_token_encrypted = models.TextField(blank=True)
    refresh_token_expires_at = models.DateTimeField(null=True, blank=True)
    scopes = models.CharField(max_length=1000, blank=True)  # granted, comma-separated
    installed_at = models.DateTimeField(auto_now_add=True)
    uninstalled_at = models.DateTimeField(null=True, blank=True)

    # Download settings, snapshotted into every grant when it is issued. None means unlimited.
    download_expiry_days = models.PositiveIntegerField(null=True, default=DEFAULT_EXPIRY_DAYS)
    download_max = models.PositiveIntegerField(null=True, default=DEFAULT_MAX_DOWNLOADS)
    filename_mode = models.CharField(
        max_length=16, choices=FilenameMode.choices, default=FilenameMode.ORIGINAL
    )

    # Email branding. Blank means Imprint's built-in text, so a store that never opens the Email
    # page sends exactly the default email.
    email_sender_name = models.CharField(max_length=100, blank=True)  # blank: the store's name
    email_reply_to = models.EmailField(blank=True)  # blank: the store's contact address
    email_logo = models.CharField(max_length=500, blank=True)  # a stored name, see catalog.storage
    email_accent_color = models.CharField(max_length=7, default=DEFAULT_ACCENT_COLOR)
    email_subject = models.CharField(max_length=200, blank=True)
    email_greeting = models.CharField(max_length=200, blank=True)
    email_footer = models.TextField(max_length=1000, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(download_expiry_days__isnull=True)
                | models.Q(download_expiry_days__gte=1, download_expiry_days__lte=MAX_EXPIRY_DAYS),
                name="shop_expiry_days_range",
            ),
            models.CheckConstraint(
                condition=models.Q(download_max__isnull=True)
                | models.Q(download_max__gte=1, download_max__lte=MAX_DOWNLOADS_LIMIT),
                name="shop_download_max_range",
            ),
        ]

    def __str__(self) -> str:
        return self.domain

    @property
    def is_installed(self) -> bool:
        return self.uninstalled_at is None

    @property
    def has_token(self) -> bool:
        return bool(self.access_token_encrypted)


class ProductSettings(models.Model):
    """A product's own download limits, used instead of the store's when its grants are issued.
    A row overrides both limits; None is unlimited. No row: the store's settings apply."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="product_settings")
    product_id = models.BigIntegerField()
    expiry_days = models.PositiveIntegerField(null=True, blank=True)
    max_downloads = models.PositiveIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "product_id"], name="product_settings_unique_per_shop"
            ),
            models.CheckConstraint(
                condition=models.Q(expiry_days__isnull=True)
                | models.Q(expiry_days__gte=1, expiry_days__lte=MAX_EXPIRY_DAYS),
                name="product_settings_expiry_days_range",
            ),
            models.CheckConstraint(
                condition=models.Q(max_downloads__isnull=True)
                | models.Q(max_downloads__gte=1, max_downloads__lte=MAX_DOWNLOADS_LIMIT),
                name="product_settings_max_downloads_range",
            ),
        ]

    def __str__(self) -> str:
        return f"limits of product {self.product_id}"


class PrivacyRequestKind(models.TextChoices):
    DATA_REQUEST = "customers/data_request", "Customer data request"
    CUSTOMER_REDACT = "customers/redact", "Customer erasure"


class PrivacyRequestStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    COMPLETED = "completed", "Completed"


class PrivacyRequest(models.Model):
    """A privacy request from Shopify about one customer, and what Imprint did about it.

    A data request keeps its report (JSON) until the store is erased, so the merchant can
    download it. An erasure keeps the counts of what was erased, never the personal data.
    `webhook_id` makes a repeated delivery of the same request change nothing.
    """

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="privacy_requests")
    kind = models.CharField(max_length=32, choices=PrivacyRequestKind.choices)
    status = models.CharField(
        max_length=16, choices=PrivacyRequestStatus.choices, default=PrivacyRequestStatus.RECEIVED
    )
    webhook_id = models.CharField(max_length=255, unique=True)
    payload = models.JSONField(default=dict)  # the request; an erasure keeps only the ids
    report = models.JSONField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    completed = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["shop", "-created"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.pk}"
