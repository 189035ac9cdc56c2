"""Forms of the merchant pages: they check input and say what is wrong in the merchant's words;
the services decide."""

from __future__ import annotations

from typing import Any

from django import forms

from imprint.catalog.services import ProductIdInvalid, product_id_parse
from imprint.delivery.services import MAX_EXTEND_DAYS
from imprint.orders.models import DeliveryStatus, FinancialStatus
from imprint.shops.models import (
    DEFAULT_ACCENT_COLOR,
    MAX_DOWNLOADS_LIMIT,
    MAX_EXPIRY_DAYS,
    FilenameMode,
)
from imprint.web.selectors import OrderFilters

PRESETS: dict[str, tuple[str, int | None, int | None]] = {
    "standard": ("Standard", 7, 3),
    "generous": ("Generous", 30, 10),
    "unlimited": ("Unlimited", None, None),
}
SYNC_DAYS_CHOICES = [(7, "Last 7 days"), (30, "Last 30 days"), (60, "Last 60 days")]
DEFAULT_SYNC_DAYS = 60  # what Shopify lets an app read without the read_all_orders scope


class OrderFiltersForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label="Search orders")
    delivery = forms.ChoiceField(
        required=False,
        label="Delivery status",
        choices=[("", "Any delivery status")]
        + [(v, label) for v, label in DeliveryStatus.choices if v != DeliveryStatus.NO_DIGITAL],
    )
    payment = forms.ChoiceField(
        required=False,
        label="Payment status",
        choices=[("", "Any payment status"), *FinancialStatus.choices],
    )
    date_from = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "The end date is before the start date.")
        return data

    def filters(self) -> OrderFilters:
        """The valid filters; a field with an error is left out rather than failing the page."""
        data = self.cleaned_data if self.is_bound else {}
        errors = self.errors if self.is_bound else {}
        return OrderFilters(
            q=" ".join((data.get("q") or "").split()),
            delivery=data.get("delivery") or "",
            payment=data.get("payment") or "",
            date_from=data.get("date_from") if "date_from" not in errors else None,
            date_to=data.get("date_to") if "date_to" not in errors else None,
        )


class ResendForm(forms.Form):
    to = forms.EmailField(
        required=False,
        max_length=254,
        label="Send to",
        help_text="Leave as it is to use the order's address, or correct it.",
        error_messages={"invalid": "Enter a valid email address, like name@example.com."},
    )


class ExtendForm(forms.Form):
    days = forms.IntegerField(
        label="Days to add",
        min_value=1,
        max_value=MAX_EXTEND_DAYS,
        error_messages={
            "required": "Enter how many days to add.",
            "invalid": "Enter a whole number of days.",
            "min_value": "Add at least 1 day.",
            "max_value": f"Add at most {MAX_EXTEND_DAYS} days.",
        },
    )


def _limit_field(label: str, maximum: int, unit: str) -> forms.IntegerField:
    return forms.IntegerField(
        required=False,
        label=label,
        min_value=1,
        max_value=maximum,
        error_messages={
            "invalid": f"Enter a whole number of {unit}.",
            "min_value": f"Enter at least 1 {unit.rstrip('s')}, or choose unlimited.",
            "max_value": f"Enter at most {maximum} {unit}, or choose unlimited.",
        },
    )


class LimitsForm(forms.Form):
    """Download expiry and maximum downloads, each a number or unlimited."""

    expiry_days = _limit_field("Download expiry (days)", MAX_EXPIRY_DAYS, "days")
    expiry_unlimited = forms.BooleanField(required=False, label="Links never expire")
    max_downloads = _limit_field("Maximum downloads", MAX_DOWNLOADS_LIMIT, "downloads")
    max_unlimited = forms.BooleanField(required=False, label="Unlimited downloads")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for number, unlimited, what in (
            ("expiry_days", "expiry_unlimited", "days"),
            ("max_downloads", "max_unlimited", "downloads"),
        ):
            if data.get(unlimited):
                data[number] = None
            elif data.get(number) is None and number not in self.errors:
                self.add_error(number, f"Enter a number of {what}, or choose unlimited.")
        return data


class DownloadSettingsForm(LimitsForm):
    filename_mode = forms.ChoiceField(
        label="Download filename",
        choices=FilenameMode.choices,
        widget=forms.RadioSelect,
        help_text="Product name: several files of one product are numbered "
        "(Snowboard Guide_01.pdf, Snowboard Guide_02.pdf); the extension is kept.",
    )


class ProductLimitsForm(LimitsForm):
    product_id = forms.TypedChoiceField(label="Product", coerce=int, choices=[])

    def __init__(self, *args: Any, products: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["product_id"].choices = products  # type: ignore[attr-defined]


class UploadForm(forms.Form):
    """The no-JavaScript upload: a multipart form (the page's script streams the raw body)."""

    file = forms.FileField(label="File", error_messages={"required": "Choose a file to upload."})


class AttachForm(forms.Form):
    product = forms.CharField(
        label="Product",
        max_length=100,
        help_text="Pick a product from the search, or enter its id (123 or gid://shopify/Product/123).",
        error_messages={"required": "Choose a product."},
    )
    variant = forms.CharField(
        required=False,
        label="Only this variant (optional)",
        max_length=100,
        help_text="Leave empty to attach the file to every variant.",
    )
    title = forms.CharField(required=False, max_length=500, widget=forms.HiddenInput)
    variant_title = forms.CharField(required=False, max_length=500, widget=forms.HiddenInput)

    def clean_product(self) -> int:
        try:
            return product_id_parse(self.cleaned_data["product"], "Product")
        except ProductIdInvalid:
            raise forms.ValidationError(
                "Enter a product id (a number) or pick a product from the search."
            ) from None

    def clean_variant(self) -> int | None:
        text = self.cleaned_data.get("variant") or ""
        if not text.strip():
            return None
        try:
            return product_id_parse(text, "ProductVariant")
        except ProductIdInvalid:
            raise forms.ValidationError(
                "Enter a variant id (a number), or leave it empty for every variant."
            ) from None


class BrandingForm(forms.Form):
    sender_name = forms.CharField(
        required=False,
        max_length=100,
        label="Sender name",
        help_text="Shown as the email's sender. Empty: your store's name.",
    )
    reply_to = forms.EmailField(
        required=False,
        max_length=254,
        label="Reply-to address",
        help_text="Where customers' replies go. Empty: your store's contact address.",
        error_messages={"invalid": "Enter a valid email address, like help@example.com."},
    )
    accent_color = forms.RegexField(
        regex=r"^#[0-9a-fA-F]{6}$",
        label="Accent colour",
        initial=DEFAULT_ACCENT_COLOR,
        help_text="The colour of the Download buttons.",
        widget=forms.TextInput(attrs={"type": "color"}),
        error_messages={"invalid": "Use a colour like #1a1a1a."},
    )
    subject = forms.CharField(
        required=False,
        max_length=200,
        label="Subject",
        help_text="Empty: “Your downloads from {shop_name} (order {order_name})”.",
    )
    greeting = forms.CharField(
        required=False,
        max_length=200,
        label="Greeting",
        help_text="Empty: “Hello {first_name},”.",
    )
    footer = forms.CharField(
        required=False,
        max_length=1000,
        label="Footer",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Empty: how to reach your store.",
    )


class LogoForm(forms.Form):
    logo = forms.FileField(
        label="Logo",
        help_text="PNG, JPEG or GIF, up to 1 MB. Shown at the top of the email.",
        error_messages={"required": "Choose an image."},
    )


class TestEmailForm(forms.Form):
    to = forms.EmailField(
        label="Send a test email to",
        max_length=254,
        error_messages={
            "required": "Enter the address to send the test to.",
            "invalid": "Enter a valid email address, like you@example.com.",
        },
    )


class SyncForm(forms.Form):
    days = forms.TypedChoiceField(
        label="Look back",
        coerce=int,
        choices=SYNC_DAYS_CHOICES,
        initial=DEFAULT_SYNC_DAYS,
    )
