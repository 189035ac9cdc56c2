from __future__ import annotations

import math

from django.db import models

from imprint.catalog.models import DigitalFile
from imprint.orders.models import LineItem, Order
from imprint.shops.models import Shop


class Restriction(models.TextChoices):
    NONE = "", "Active"
    MERCHANT = "merchant", "Restricted by the store"
    CANCELLED = "cancelled", "Order cancelled"
    REFUNDED = "refunded", "Refunded"


class DownloadGrant(models.Model):
    """The right to download one file of one line item, with the limits it was issued with.

    Downloads are counted in bytes: a grant allows `max_downloads * file_size` bytes, and every
    response charges what it is about to send, so a resumed download costs one download.
    """

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="grants")
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="grants")
    line_item = models.ForeignKey(LineItem, on_delete=models.CASCADE, related_name="grants")
    file = models.ForeignKey(DigitalFile, on_delete=models.PROTECT, related_name="grants")
    filename = models.CharField(max_length=255)  # the name the customer's browser saves
    file_size = models.BigIntegerField()
    max_downloads = models.PositiveIntegerField(null=True, blank=True)  # None: unlimited
    expires_at = models.DateTimeField(null=True, blank=True)  # None: never
    bytes_used = models.BigIntegerField(default=0)
    restriction = models.CharField(
        max_length=16, choices=Restriction.choices, default=Restriction.NONE, blank=True
    )
    # Part of the link's signature: bumping it retires every link sent so far.
    generation = models.PositiveIntegerField(default=1)
    last_download_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["line_item", "file"], name="grant_unique_per_line_file"
            ),
        ]
        indexes = [models.Index(fields=["order"])]

    def __str__(self) -> str:
        return f"{self.filename} for {self.order}"

    @property
    def downloads_used(self) -> int:
        if self.file_size <= 0:
            return 1 if self.bytes_used > 0 else 0
        return math.ceil(self.bytes_used / self.file_size)

    @property
    def downloads_left(self) -> int | None:
        if self.max_downloads is None:
            return None
        return max(self.max_downloads - self.downloads_used, 0)

    @property
    def downloaded_in_full(self) -> bool:
        return self.bytes_used >= self.file_size and self.bytes_used > 0


class DownloadEvent(models.Model):
    """One response that sent (part of) a file."""

    grant = models.ForeignKey(DownloadGrant, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(auto_now_add=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    range_start = models.BigIntegerField()
    range_end = models.BigIntegerField()  # inclusive
    bytes_charged = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["grant", "-at"])]

    def __str__(self) -> str:
        return f"bytes {self.range_start}-{self.range_end} of grant {self.grant_id}"
