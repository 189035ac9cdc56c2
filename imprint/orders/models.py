from __future__ import annotations

from django.db import models

from imprint.shops.models import Shop


class FinancialStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    AUTHORIZED = "authorized", "Authorized"
    PARTIALLY_PAID = "partially_paid", "Partially paid"
    PAID = "paid", "Paid"
    PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"
    REFUNDED = "refunded", "Refunded"
    VOIDED = "voided", "Voided"
    EXPIRED = "expired", "Expired"


# Payment confirmed: the customer's files may be delivered.
DELIVERABLE_STATUSES = frozenset({FinancialStatus.PAID, FinancialStatus.PARTIALLY_REFUNDED})


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # not paid yet, or the email is on its way
    PROCESSED = "processed", "Processed"  # the delivery email was sent
    FAILED = "failed", "Email failed"
    RESTRICTED = "restricted", "Restricted"
    NO_DIGITAL = "no_digital", "No digital items"


class Order(models.Model):
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="orders")
    shopify_id = models.BigIntegerField()
    name = models.CharField(max_length=64)  # "#1001"
    email = models.EmailField(max_length=254, blank=True)
    customer_first_name = models.CharField(max_length=255, blank=True)
    customer_last_name = models.CharField(max_length=255, blank=True)
    financial_status = models.CharField(
        max_length=32, choices=FinancialStatus.choices, default=FinancialStatus.PENDING
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    test = models.BooleanField(default=False)
    shopify_created_at = models.DateTimeField()
    # The newest Shopify state applied; older deliveries never overwrite a newer one.
    shopify_updated_at = models.DateTimeField()
    has_digital_items = models.BooleanField(default=False)
    delivery_status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    delivered_at = models.DateTimeField(null=True, blank=True)  # when the grants were issued
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "shopify_id"], name="order_unique_per_shop"),
        ]
        indexes = [
            models.Index(fields=["shop", "-shopify_created_at"]),
            models.Index(fields=["shop", "email"]),
            models.Index(fields=["shop", "name"]),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.shop.domain})"

    @property
    def customer_name(self) -> str:
        return f"{self.customer_first_name} {self.customer_last_name}".strip()

    @property
    def is_deliverable(self) -> bool:
        return self.financial_status in DELIVERABLE_STATUSES and self.cancelled_at is None


class LineItem(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="line_items")
    shopify_id = models.BigIntegerField()
    product_id = models.BigIntegerField(null=True, blank=True)
    variant_id = models.BigIntegerField(null=True, blank=True)
    title = models.CharField(max_length=500)  # the product's title
    variant_title = models.CharField(max_length=500, blank=True)
    quantity = models.PositiveIntegerField(default=1)
    refunded_quantity = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["order", "shopify_id"], name="line_unique_per_order"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_refunded(self) -> bool:
        return self.refunded_quantity >= self.quantity


class OrderActivity(models.Model):
    """What happened to an order and who did it, for the order's activity log."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="activity")
    actor = models.CharField(max_length=255)  # "Shopify", "Imprint", or a staff member
    action = models.CharField(max_length=64)
    detail = models.TextField(blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["order", "-at"])]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor}"


class Refund(models.Model):
    """A Shopify refund already counted into its order's line items, so it is counted once
    whether it arrives as refunds/create, inside an order payload, or both."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="refunds")
    shopify_id = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["order", "shopify_id"], name="refund_unique_per_order"),
        ]

    def __str__(self) -> str:
        return f"refund {self.shopify_id}"


class SyncRun(models.Model):
    """One run of the order sync for a store, with its live progress and its outcome."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        PARTIAL = "partial", "Stopped early"

    class Trigger(models.TextChoices):
        MANUAL = "manual", "Button"
        SCHEDULE = "schedule", "Schedule"
        CLI = "cli", "Command line"

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="sync_runs")
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    window_start = models.DateTimeField()  # orders created since then were checked
    started_at = models.DateTimeField()
    # Moved on every page: a running row whose heartbeat is older than the lease belongs to a
    # process that died, and the next sync takes over.
    heartbeat_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    # Orders are listed oldest first: those created up to this instant have been checked.
    scanned_through = models.DateTimeField(null=True, blank=True)
    scanned = models.PositiveIntegerField(default=0)  # paid orders Shopify listed
    already_known = models.PositiveIntegerField(default=0)  # Imprint had them, up to date
    delivered = models.PositiveIntegerField(default=0)  # links issued and email queued now
    skipped_no_digital = models.PositiveIntegerField(default=0)
    recorded = models.PositiveIntegerField(default=0)  # new or updated, nothing to deliver
    errors = models.PositiveIntegerField(default=0)
    error_text = models.TextField(blank=True)  # readable: why it failed, which orders failed
    note = models.TextField(blank=True)  # e.g. the window was shortened to what Shopify shows
    points_spent = models.PositiveIntegerField(default=0)  # Shopify API cost points
    duration_seconds = models.FloatField(null=True, blank=True)

    class Meta:
        constraints = [
            # Two syncs of one store never run at once: the second one joins the first.
            models.UniqueConstraint(
                fields=["shop"],
                condition=models.Q(status="running"),
                name="sync_one_running_per_shop",
            ),
        ]
        indexes = [models.Index(fields=["shop", "-started_at"])]

    def __str__(self) -> str:
        return f"sync of {self.shop.domain} at {self.started_at:%Y-%m-%d %H:%M} ({self.status})"

    @property
    def is_running(self) -> bool:
        return self.status == self.Status.RUNNING

    @property
    def fraction_done(self) -> float:
        """How far through its window the run is, 0 to 1 (orders are listed oldest first)."""
        if not self.is_running:
            return 1.0
        if self.scanned_through is None:
            return 0.0
        span = (self.started_at - self.window_start).total_seconds()
        done = (self.scanned_through - self.window_start).total_seconds()
        return min(max(done / span, 0.0), 1.0) if span > 0 else 0.0
