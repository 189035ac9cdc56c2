from __future__ import annotations

from django.db import models

from imprint.orders.models import Order
from imprint.shops.models import Shop


class EmailKind(models.TextChoices):
    DELIVERY = "delivery", "Delivery"
    RESEND = "resend", "Resent delivery"


class EmailStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    # Not sent: every link of the order was restricted (refund, cancellation) before it went out.
    CANCELLED = "cancelled", "Not sent"


class EmailLog(models.Model):
    """One email Imprint sends, from queued to sent or failed: the order's email history."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="emails")
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="emails")
    kind = models.CharField(max_length=16, choices=EmailKind.choices)
    to = models.EmailField(max_length=254)
    subject = models.CharField(max_length=500, blank=True)
    status = models.CharField(
        max_length=16, choices=EmailStatus.choices, default=EmailStatus.QUEUED
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)  # when the current attempt began
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    message_id = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # The heart of "exactly one delivery email": every path that would send a second
            # one lands on this constraint.
            models.UniqueConstraint(
                fields=["order"],
                condition=models.Q(kind="delivery"),
                name="email_one_delivery_per_order",
            ),
        ]
        indexes = [
            models.Index(fields=["order", "-created_at"]),
            # The workers' queue (the row is the job): claims look emails up by status.
            models.Index(fields=["status"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind} email for {self.order} ({self.status})"


class MailboxMessage(models.Model):
    """A message kept by the local mailbox, the default mail backend when no SMTP is set."""

    sender = models.CharField(max_length=500)
    recipients = models.TextField()  # comma-separated
    subject = models.CharField(max_length=998)
    text = models.TextField(blank=True)
    html = models.TextField(blank=True)
    raw = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.subject
