from __future__ import annotations

from django.db import models

from imprint.shops.models import Shop


class DigitalFile(models.Model):
    """A file a merchant sells, kept in Imprint's storage."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="files")
    name = models.CharField(max_length=255)  # the original filename, shown to customers
    storage_name = models.CharField(max_length=500, unique=True)  # where storage keeps it
    size = models.BigIntegerField()
    content_type = models.CharField(max_length=255, default="application/octet-stream")
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["shop", "-created_at"])]

    def __str__(self) -> str:
        return self.name


class Attachment(models.Model):
    """A file attached to a product (every variant) or to one variant of it."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="attachments")
    file = models.ForeignKey(DigitalFile, on_delete=models.CASCADE, related_name="attachments")
    product_id = models.BigIntegerField()
    variant_id = models.BigIntegerField(null=True, blank=True)  # None: every variant
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # NULL never equals NULL in a unique index, so the product-wide case needs its own.
            models.UniqueConstraint(
                fields=["file", "product_id"],
                condition=models.Q(variant_id__isnull=True),
                name="attachment_unique_product",
            ),
            models.UniqueConstraint(
                fields=["file", "product_id", "variant_id"],
                condition=models.Q(variant_id__isnull=False),
                name="attachment_unique_variant",
            ),
        ]
        indexes = [models.Index(fields=["shop", "product_id"])]

    def __str__(self) -> str:
        target = f"variant {self.variant_id}" if self.variant_id else "all variants"
        return f"{self.file} → product {self.product_id} ({target})"
