"""Small helpers for the merchant templates: badge tones and form fields."""

from __future__ import annotations

from django import template
from django.forms import BoundField

register = template.Library()

_DELIVERY_TONES = {
    "processed": "success",
    "pending": "info",
    "failed": "critical",
    "restricted": "warning",
}
_PAYMENT_TONES = {
    "paid": "success",
    "partially_refunded": "warning",
    "refunded": "",
    "pending": "warning",
    "authorized": "info",
    "voided": "",
}
_EMAIL_TONES = {"sent": "success", "queued": "info", "sending": "info", "failed": "critical"}
_GRANT_TONES = {
    "active": "success",
    "expired": "",
    "limit reached": "warning",
    "restricted": "critical",
}


@register.filter
def delivery_tone(status: str) -> str:
    return _DELIVERY_TONES.get(status, "")


@register.filter
def payment_tone(status: str) -> str:
    return _PAYMENT_TONES.get(status, "")


@register.filter
def email_tone(status: str) -> str:
    return _EMAIL_TONES.get(status, "")


@register.filter
def grant_tone(state: str) -> str:
    return _GRANT_TONES.get(state, "")


@register.inclusion_tag("web/_field.html")
def field(bound: BoundField, hide_label: bool = False) -> dict[str, object]:
    """A labelled field with its help and errors, described for screen readers."""
    return {"field": bound, "hide_label": hide_label}
