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
