from __future__ import annotations

from django.db import models

from imprint.shops.models import Shop


class DeliveryStatus(models.TextChoices):
    RECEIVED = "received", "Received"  # recorded, waiting for a worker (the row is the job)
    PROCESSING = "processing", "Processing"  # claimed by a worker until `claimed_at` + the lease
    PROCESSED = "processed", "Processed"
    IGNORED = "ignored", "Ignored"  # unknown shop or topic, stale or irrelevant: nothing to do
    FAILED = "failed", "Failed"


class WebhookDelivery(models.Model):
    """One webhook delivery from Shopify, recorded before it is processed.

    `webhook_id` (X-Shopify-Webhook-Id) is unique: Shopify's retries of the same delivery land
    on it and change nothing.
    """

    webhook_id = models.CharField(max_length=255, unique=True)
    event_id = models.CharField(max_length=255, blank=True)
    topic = models.CharField(max_length=100)
    shop_domain = models.CharField(max_length=255)
    shop = models.ForeignKey(
        Shop, null=True, blank=True, on_delete=models.CASCADE, related_name="webhooks"
    )
    api_version = models.CharField(max_length=32, blank=True)
    triggered_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    body = models.TextField()
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices)
    outcome = models.TextField(blank=True)  # what processing did, or why it was ignored
    processed_at = models.DateTimeField(null=True, blank=True)
    # The delivery is its own job: a worker claims RECEIVED rows that are due (and PROCESSING
    # ones whose worker died, past the lease), counting attempts; a failure sets the next one.
    attempts = models.PositiveIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)  # None: due now

    class Meta:
        indexes = [
            models.Index(fields=["shop", "-received_at"]),
            # The workers' queue: claims look rows up by status, so that they touch only the
            # deliveries still to do however many the table keeps (a partial index would not
            # serve SQLite, which cannot match one to a query with bound parameters).
            models.Index(fields=["status"], name="webhook_status"),
        ]

    def __str__(self) -> str:
        return f"{self.topic} from {self.shop_domain} ({self.webhook_id})"
