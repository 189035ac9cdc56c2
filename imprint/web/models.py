from __future__ import annotations

from django.db import models


class LoginNonce(models.Model):
    """A sign-in link already used: the link's nonce is unique here, so a link signs in once."""

    nonce = models.CharField(max_length=64, unique=True)
    shop = models.ForeignKey("shops.Shop", on_delete=models.CASCADE, related_name="+")
    used_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["used_at"])]

    def __str__(self) -> str:
        return f"sign-in {self.nonce[:8]}… used {self.used_at:%Y-%m-%d %H:%M}"


class ProductLabel(models.Model):
    """The title of a product (and variant) as the product picker showed it when a file was
    attached, so the Files page names products without asking Shopify on every view."""

    shop = models.ForeignKey("shops.Shop", on_delete=models.CASCADE, related_name="+")
    product_id = models.BigIntegerField()
    variant_id = models.BigIntegerField(default=0)  # 0: the product itself
    title = models.CharField(max_length=500)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "product_id", "variant_id"], name="product_label_unique"
            )
        ]

    def __str__(self) -> str:
        return self.title
