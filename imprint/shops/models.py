from __future__ import annotations

from django.db import models

DEFAULT_EXPIRY_DAYS = 30
DEFAULT_MAX_DOWNLOADS = 5
MAX_EXPIRY_DAYS = 3650  # ten years: anything longer is "unlimited", which is its own setting
MAX_DOWNLOADS_LIMIT = 1000


class FilenameMode(models.TextChoices):
    ORIGINAL = "original", "Original filename"
    PRODUCT = "product", "Product name"


class Shop(models.Model):
    """A Shopify store that uses Imprint: the tenant every other row belongs to."""

    domain = models.CharField(max_length=255, unique=True)  # example.myshopify.com
    name = models.CharField(max_length=255)
    email = models.EmailField(blank=True)  # the store's contact address: Reply-To of its emails
    access_token = models.CharField(max_length=255, blank=True)
    installed_at = models.DateTimeField(auto_now_add=True)
    uninstalled_at = models.DateTimeField(null=True, blank=True)

    # Download settings, snapshotted into every grant when it is issued. None means unlimited.
    download_expiry_days = models.PositiveIntegerField(null=True, default=DEFAULT_EXPIRY_DAYS)
    download_max = models.PositiveIntegerField(null=True, default=DEFAULT_MAX_DOWNLOADS)
    filename_mode = models.CharField(
        max_length=16, choices=FilenameMode.choices, default=FilenameMode.ORIGINAL
    )

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
