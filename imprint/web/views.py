"""The merchant's pages under /app/, plus /healthz and the public email logo.

Views are thin: load through a shop-scoped selector (404 for another store's object), check with
a form, call one service, redirect with a message. Every change is a POST (or the upload's PUT)
with CSRF protection.
"""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import Callable
from typing import Any, BinaryIO, cast
from urllib.parse import unquote, urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    JsonResponse,
)
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from imprint.catalog.models import DigitalFile
from imprint.catalog.services import (
    AttachmentInvalid,
    FileInUse,
    attachment_remove,
    file_attach,
    file_delete,
    file_replace,
    file_store,
)
from imprint.catalog.storage import storage_open
from imprint.delivery.services import (
    GrantActionError,
    grants_extend,
    grants_reset,
    grants_restore,
    grants_restrict,
)
from imprint.emails.preview import TestEmailFailed, email_preview_render, email_test_send
from imprint.emails.rendering import EmailBranding, email_branding, logo_version
from imprint.emails.services import EmailAddressInvalid, NothingToResend, email_resend
from imprint.shops.models import DEFAULT_EXPIRY_DAYS, Shop
from imprint.shops.services import (
    BrandingInvalid,
    ShopSettingsInvalid,
    placeholders_check,
    product_settings_clear,
    product_settings_set,
    shop_branding_update,
    shop_logo_remove,
    shop_logo_set,
    shop_settings_update,
)
from imprint.web import selectors, sync_view
from imprint.web.auth import (
    LoginLinkInvalid,
    ShopRequest,
    login_link_redeem,
    session_sign_in,
    session_sign_out,
    shop_required,
)
from imprint.web.forms import (
    PRESETS,
    AttachForm,
    BrandingForm,
    DownloadSettingsForm,
    ExtendForm,
    LogoForm,
    OrderFiltersForm,
    ProductLimitsForm,
    ResendForm,
    TestEmailForm,
    UploadForm,
)
from imprint.web.models import ProductLabel

logger = logging.getLogger(__name__)


@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness: the process answers. Cheap on purpose: load balancers call it constantly."""
    return JsonResponse({"status": "ok"})


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "web/home.html")


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


# --- sign-in -------------------------------------------------------------------------------------


@require_GET
@never_cache
def login(request: HttpRequest, token: str) -> HttpResponse:
    try:
        shop, label = login_link_redeem(token=token)
    except LoginLinkInvalid as exc:
        return render(request, "web/signin_required.html", {"problem": str(exc)}, status=403)
    session_sign_in(request, shop=shop, label=label)
    return redirect("web:orders")


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    session_sign_out(request)
    return render(request, "web/signin_required.html", {"signed_out": True})


# --- orders --------------------------------------------------------------------------------------


@require_GET
@shop_required
def orders(request: ShopRequest) -> HttpResponse:
    form = OrderFiltersForm(request.GET or None)
    if form.is_bound:
        form.is_valid()  # errors are shown beside the filter; valid filters still apply
    filters = form.filters()
    page, rows = selectors.orders_page(
        shop=request.shop, filters=filters, page=request.GET.get("page")
    )
    query = {k: v for k, v in request.GET.items() if k != "page" and v}
    context = {
        "form": form,
        "filters": filters,
        "page": page,
        "rows": rows,
        "query": urlencode(query),
        "nav": "orders",
    }
    if _is_htmx(request) and request.headers.get("HX-Target") == "order-results":
        return render(request, "web/_order_results.html", context)
    context["dashboard"] = selectors.dashboard_cached(shop=request.shop)
    return render(request, "web/orders.html", context)


ACTIONS = {
    "resend": "Resend Email",
    "reset": "Reset Downloads",
    "extend": "Extend Expiry",
    "restrict": "Restrict Downloads",
    "restore": "Restore access",
}


def _order_context(request: ShopRequest, order_id: int, **extra: Any) -> dict[str, Any]:
    detail = selectors.order_detail(shop=request.shop, order_id=order_id)
    days = request.shop.download_expiry_days or DEFAULT_EXPIRY_DAYS
    return {
        "detail": detail,
        "order": detail.order,
        "resend_form": extra.pop("resend_form", None)
        or ResendForm(initial={"to": detail.order.email}),
        "extend_form": extra.pop("extend_form", None) or ExtendForm(initial={"days": days}),
        "nav": "orders",
        **extra,
    }


@require_GET
@shop_required
def order_detail(request: ShopRequest, order_id: int) -> HttpResponse:
    return render(request, "web/order_detail.html", _order_context(request, order_id))


@require_GET
@shop_required
def order_confirm(request: ShopRequest, order_id: int, action: str) -> HttpResponse:
    """The confirmation step of an action as its own page, for browsers without JavaScript
    (with it, the same form opens in a dialog on the order page)."""
    if action not in ACTIONS:
        raise Http404("No such action")
    context = _order_context(request, order_id, action=action, action_label=ACTIONS[action])
    return render(request, "web/order_confirm.html", context)


def _order_done(request: ShopRequest, order_id: int) -> HttpResponse:
    return redirect("web:order", order_id=order_id)


def _order_invalid(request: ShopRequest, order_id: int, action: str, **forms: Any) -> HttpResponse:
    context = _order_context(
        request, order_id, action=action, action_label=ACTIONS[action], **forms
    )
    return render(request, "web/order_confirm.html", context, status=400)


@require_POST
@shop_required
def order_resend(request: ShopRequest, order_id: int) -> HttpResponse:
    order = selectors.order_get(shop=request.shop, order_id=order_id)
    form = ResendForm(request.POST)
    if not form.is_valid():
        return _order_invalid(request, order_id, "resend", resend_form=form)
    to = form.cleaned_data["to"] or None
    try:
        email = email_resend(order=order, to=to, actor=request.actor)
    except (EmailAddressInvalid, NothingToResend) as exc:
        form.add_error("to" if isinstance(exc, EmailAddressInvalid) else None, str(exc))
        return _order_invalid(request, order_id, "resend", resend_form=form)
    messages.success(request, f"The delivery email is on its way to {email.to}.")
    return _order_done(request, order_id)


@require_POST
@shop_required
def order_reset(request: ShopRequest, order_id: int) -> HttpResponse:
    order = selectors.order_get(shop=request.shop, order_id=order_id)
    count = grants_reset(order=order, actor=request.actor)
    messages.success(request, f"Downloads reset: {_files(count)} can be downloaded again in full.")
    return _order_done(request, order_id)


@require_POST
@shop_required
def order_extend(request: ShopRequest, order_id: int) -> HttpResponse:
    order = selectors.order_get(shop=request.shop, order_id=order_id)
    form = ExtendForm(request.POST)
    if not form.is_valid():
        return _order_invalid(request, order_id, "extend", extend_form=form)
    days = form.cleaned_data["days"]
    try:
        count = grants_extend(order=order, days=days, actor=request.actor)
    except GrantActionError as exc:
        form.add_error("days", str(exc))
        return _order_invalid(request, order_id, "extend", extend_form=form)
    if count:
        messages.success(
            request, f"Expiry extended by {days} day{'s' if days != 1 else ''} for {_files(count)}."
        )
    else:
        messages.info(request, "Nothing to extend: this order's links never expire.")
    return _order_done(request, order_id)


@require_POST
@shop_required
def order_restrict(request: ShopRequest, order_id: int) -> HttpResponse:
    order = selectors.order_get(shop=request.shop, order_id=order_id)
    count = grants_restrict(order=order, actor=request.actor)
    messages.success(
        request,
        f"Downloads restricted: {_links(count)} stopped working."
        if count
        else "Every link was restricted already.",
    )
    return _order_done(request, order_id)


@require_POST
@shop_required
def order_restore(request: ShopRequest, order_id: int) -> HttpResponse:
    order = selectors.order_get(shop=request.shop, order_id=order_id)
    count = grants_restore(order=order, actor=request.actor)
    messages.success(
        request,
        f"Access restored: {_links(count)} work again." if count else "No link was restricted.",
    )
    return _order_done(request, order_id)


def _files(count: int) -> str:
    return f"{count} file{'' if count == 1 else 's'}"


def _links(count: int) -> str:
    return f"{count} download link{'' if count == 1 else 's'}"


# --- download settings ---------------------------------------------------------------------------


def _limits_initial(expiry: int | None, maximum: int | None) -> dict[str, Any]:
    return {
        "expiry_days": expiry,
        "expiry_unlimited": expiry is None,
        "max_downloads": maximum,
        "max_unlimited": maximum is None,
    }


def _downloads_page(
    request: ShopRequest,
    *,
    status: int = 200,
    form: DownloadSettingsForm | None = None,
    limits_form: ProductLimitsForm | None = None,
) -> HttpResponse:
    shop = request.shop
    limits = _limits_initial(shop.download_expiry_days, shop.download_max)
    if form is None:
        form = DownloadSettingsForm(initial={**limits, "filename_mode": shop.filename_mode})
    if limits_form is None:
        limits_form = ProductLimitsForm(
            products=selectors.attached_products(shop=shop), initial=limits
        )
    context = {
        "form": form,
        "presets": PRESETS,
        "limits_form": limits_form,
        "overrides": selectors.product_overrides(shop=shop),
        "nav": "downloads",
    }
    return render(request, "web/download_settings.html", context, status=status)


@require_http_methods(["GET", "POST"])
@shop_required
def download_settings(request: ShopRequest) -> HttpResponse:
    if request.method == "GET":
        return _downloads_page(request)
    preset = request.POST.get("preset")
    if preset is not None:
        if preset not in PRESETS:
            return HttpResponseBadRequest("Unknown preset")
        label, expiry, maximum = PRESETS[preset]
        shop_settings_update(shop=request.shop, expiry_days=expiry, max_downloads=maximum)
        messages.success(
            request, f"{label} limits saved. They apply to orders delivered from now on."
        )
        return redirect("web:downloads")
    form = DownloadSettingsForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            shop_settings_update(
                shop=request.shop,
                expiry_days=data["expiry_days"],
                max_downloads=data["max_downloads"],
                filename_mode=data["filename_mode"],
            )
        except ShopSettingsInvalid as exc:  # the form's bounds are the service's; kept in step
            form.add_error(None, str(exc))
        else:
            messages.success(
                request, "Download settings saved. They apply to orders delivered from now on."
            )
            return redirect("web:downloads")
    return _downloads_page(request, status=400, form=form)


@require_POST
@shop_required
def product_limits(request: ShopRequest) -> HttpResponse:
    shop = request.shop
    form = ProductLimitsForm(request.POST, products=selectors.attached_products(shop=shop))
    if form.is_valid():
        data = form.cleaned_data
        try:
            product_settings_set(
                shop=shop,
                product_id=data["product_id"],
                expiry_days=data["expiry_days"],
                max_downloads=data["max_downloads"],
            )
        except ShopSettingsInvalid as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request, "The product's own limits are saved. They apply to its new orders."
            )
            return redirect("web:downloads")
    return _downloads_page(request, status=400, limits_form=form)


@require_POST
@shop_required
def product_limits_clear(request: ShopRequest, product_id: int) -> HttpResponse:
    if not product_settings_clear(shop=request.shop, product_id=product_id):
        raise Http404("No such product override")
    messages.success(request, "The product uses the store's download settings again.")
    return redirect("web:downloads")


# --- files ---------------------------------------------------------------------------------------


def _files_page(request: ShopRequest, *, status: int = 200, **extra: Any) -> HttpResponse:
    context = {
        "files": selectors.files_list(shop=request.shop),
        "upload_form": extra.pop("upload_form", None) or UploadForm(),
        "attach_form": extra.pop("attach_form", None) or AttachForm(),
        "nav": "files",
        **extra,
    }
    return render(request, "web/files.html", context, status=status)


@require_GET
@shop_required
def files(request: ShopRequest) -> HttpResponse:
    return _files_page(request)


def _raw_upload_name(request: HttpRequest) -> str:
    name = unquote(request.headers.get("X-File-Name", "")).strip()
    if not name:
        raise ValidationError("The upload has no file name.")
    return name


def _raw_content_type(request: HttpRequest, name: str) -> str | None:
    declared = request.content_type or ""
    if declared in ("", "application/octet-stream"):
        return mimetypes.guess_type(name)[0]
    return declared


def _upload(
    request: ShopRequest,
    save: Callable[..., DigitalFile],
    message: Callable[[DigitalFile], str],
) -> HttpResponse:
    """PUT: the page's script sends the file as the raw body, which is streamed into storage in
    chunks (never held in memory or spooled twice); the answer is JSON. POST: the multipart form
    of a browser without JavaScript; Django spools a large part to a temporary file, then it is
    copied in chunks. `save(source=, name=, content_type=)` stores the file."""
    if request.method == "PUT":
        try:
            name = _raw_upload_name(request)
        except ValidationError as exc:
            return JsonResponse({"error": exc.messages[0]}, status=400)
        stored = save(
            # The request is the body's stream: read in chunks, never loaded whole.
            source=cast(BinaryIO, request),
            name=name,
            content_type=_raw_content_type(request, name),
        )
    else:
        form = UploadForm(request.POST, request.FILES)
        if not form.is_valid():
            return _files_page(request, status=400, upload_form=form)
        upload = form.cleaned_data["file"]
        stored = save(source=upload, name=upload.name, content_type=upload.content_type)
    messages.success(request, message(stored))
    if request.method == "PUT":
        return JsonResponse(
            {"id": stored.pk, "name": stored.name, "redirect": reverse("web:files")}
        )
    return redirect("web:files")


@require_http_methods(["POST", "PUT"])
@shop_required
def file_upload(request: ShopRequest) -> HttpResponse:
    return _upload(
        request,
        lambda **source: file_store(shop=request.shop, **source),
        lambda stored: f"{stored.name} uploaded. Attach it to a product below.",
    )


@require_http_methods(["POST", "PUT"])
@shop_required
def file_replace_view(request: ShopRequest, file_id: int) -> HttpResponse:
    file = selectors.file_get(shop=request.shop, file_id=file_id)
    return _upload(
        request,
        lambda **source: file_replace(file=file, **source),
        lambda new: (
            f"{file.name} replaced by {new.name}. New orders get the new version; links already sent keep the version they were sent with."
        ),
    )


@require_POST
@shop_required
def file_delete_view(request: ShopRequest, file_id: int) -> HttpResponse:
    file = selectors.file_get(shop=request.shop, file_id=file_id)
    try:
        file_delete(file=file)
    except FileInUse as exc:
        messages.error(
            request,
            f"{file.name} was not deleted: {exc} Deleting it would break links customers already have. "
            "Detach it from its products instead, so that new orders no longer get it.",
        )
        return redirect("web:files")
    messages.success(request, f"{file.name} deleted.")
    return redirect("web:files")


@require_GET
@shop_required
def file_confirm_delete(request: ShopRequest, file_id: int) -> HttpResponse:
    file = selectors.file_get(shop=request.shop, file_id=file_id)
    return render(
        request,
        "web/file_confirm_delete.html",
        {"file": file, "in_use": file.grants.count(), "nav": "files"},
    )


@require_POST
@shop_required
def file_attach_view(request: ShopRequest, file_id: int) -> HttpResponse:
    file = selectors.file_get(shop=request.shop, file_id=file_id)
    form = AttachForm(request.POST)
    if not form.is_valid():
        return _files_page(request, status=400, attach_form=form, attach_file_id=file.pk)
    data = form.cleaned_data
    try:
        file_attach(file=file, product_id=data["product"], variant_id=data["variant"])
    except AttachmentInvalid as exc:
        form.add_error("product", str(exc))
        return _files_page(request, status=400, attach_form=form, attach_file_id=file.pk)
    _label_remember(request.shop, data["product"], 0, data.get("title") or "")
    if data["variant"]:
        _label_remember(
            request.shop, data["product"], data["variant"], data.get("variant_title") or ""
        )
    target = data.get("title") or f"product {data['product']}"
    if data["variant"]:
        target += f" ({data.get('variant_title') or 'variant ' + str(data['variant'])})"
    messages.success(request, f"{file.name} attached to {target}. Its new orders get the file.")
    return redirect("web:files")


def _label_remember(shop: Shop, product_id: int, variant_id: int, title: str) -> None:
    title = " ".join(title.split())[:500]
    if title:
        ProductLabel.objects.update_or_create(
            shop=shop, product_id=product_id, variant_id=variant_id, defaults={"title": title}
        )


@require_POST
@shop_required
def attachment_remove_view(request: ShopRequest, attachment_id: int) -> HttpResponse:
    attachment = selectors.attachment_get(shop=request.shop, attachment_id=attachment_id)
    attachment_remove(attachment=attachment)
    messages.success(request, "File detached. New orders of that product no longer get it.")
    return redirect("web:files")


@require_GET
@shop_required
def product_picker(request: ShopRequest) -> HttpResponse:
    """Products whose title matches, from Shopify, for the attach form (an htmx fragment)."""
    from imprint.shopify.admin import ShopifyError
    from imprint.shopify.products import products_search

    query = request.GET.get("q", "")[:100]
    problem = ""
    found = []
    if not request.shop.has_token:
        problem = (
            "Imprint has no access to this store's products yet. Enter the product id instead."
        )
    else:
        try:
            found = products_search(shop=request.shop, query=query)
        except ShopifyError:
            logger.warning("product search failed for %s", request.shop.domain, exc_info=True)
            problem = (
                "Shopify did not answer the product search. Try again, or enter the product id."
            )
    return render(
        request,
        "web/_product_picker.html",
        {
            "products": found,
            "problem": problem,
            "query": query,
            "file_id": request.GET.get("file", ""),
        },
    )


# --- email ---------------------------------------------------------------------------------------


def _branding_from_form(shop: Shop, form: BrandingForm) -> EmailBranding:
    saved = email_branding(shop)
    data = form.cleaned_data
    return EmailBranding(
        sender_name=data.get("sender_name") or shop.name,
        reply_to=data.get("reply_to") or shop.email,
        accent_color=data.get("accent_color") or saved.accent_color,
        logo_url=saved.logo_url,
        subject=data.get("subject") or "",
        greeting=data.get("greeting") or "",
        footer=data.get("footer") or "",
    )


def _branding_initial(shop: Shop) -> dict[str, str]:
    return {
        "sender_name": shop.email_sender_name,
        "reply_to": shop.email_reply_to,
        "accent_color": shop.email_accent_color,
        "subject": shop.email_subject,
        "greeting": shop.email_greeting,
        "footer": shop.email_footer,
    }


def _email_page(request: ShopRequest, *, status: int = 200, **extra: Any) -> HttpResponse:
    shop = request.shop
    form = extra.pop("form", None) or BrandingForm(initial=_branding_initial(shop))
    preview = email_preview_render(shop=shop)
    context = {
        "form": form,
        "logo_form": extra.pop("logo_form", None) or LogoForm(),
        "test_form": extra.pop("test_form", None) or TestEmailForm(initial={"to": shop.email}),
        "preview": preview,
        "logo_url": email_branding(shop).logo_url,
        "nav": "email",
        **extra,
    }
    return render(request, "web/email.html", context, status=status)


@require_http_methods(["GET", "POST"])
@shop_required
def email_settings(request: ShopRequest) -> HttpResponse:
    if request.method == "GET":
        return _email_page(request)
    form = BrandingForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            shop_branding_update(shop=request.shop, **data)
        except BrandingInvalid as exc:
            form.add_error(exc.field if exc.field in form.fields else None, str(exc))
        else:
            messages.success(request, "Email settings saved. Emails sent from now on use them.")
            return redirect("web:email")
    return _email_page(request, status=400, form=form)


@require_POST
@shop_required
def email_preview(request: ShopRequest) -> HttpResponse:
    """The preview with the form's unsaved values (htmx, as the merchant types)."""
    form = BrandingForm(request.POST)
    problem = ""
    branding = None
    if form.is_valid():
        try:
            for field in ("subject", "greeting", "footer"):
                placeholders_check(form.cleaned_data[field], field=field)
        except BrandingInvalid as exc:
            problem = str(exc)
        else:
            branding = _branding_from_form(request.shop, form)
    else:
        problem = "Fix the highlighted fields to see the preview."
    preview = email_preview_render(shop=request.shop, branding=branding)
    return render(request, "web/_email_preview.html", {"preview": preview, "problem": problem})


@require_POST
@shop_required
def email_logo_upload(request: ShopRequest) -> HttpResponse:
    form = LogoForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["logo"]
        try:
            shop_logo_set(shop=request.shop, source=upload, content_type=upload.content_type or "")
        except BrandingInvalid as exc:
            form.add_error("logo", str(exc))
        else:
            messages.success(request, "Logo saved.")
            return redirect("web:email")
    return _email_page(request, status=400, logo_form=form)


@require_POST
@shop_required
def email_logo_remove(request: ShopRequest) -> HttpResponse:
    shop_logo_remove(shop=request.shop)
    messages.success(request, "Logo removed: the email shows your store's name instead.")
    return redirect("web:email")


@require_POST
@shop_required
def email_test(request: ShopRequest) -> HttpResponse:
    form = TestEmailForm(request.POST)
    if form.is_valid():
        try:
            email_test_send(shop=request.shop, to=form.cleaned_data["to"])
        except EmailAddressInvalid as exc:
            form.add_error("to", str(exc))
        except TestEmailFailed as exc:
            logger.warning("test email for %s failed", request.shop.domain, exc_info=True)
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Test email sent to {form.cleaned_data['to']}.")
            return redirect("web:email")
    return _email_page(request, status=400, test_form=form)


@require_GET
def email_logo(request: HttpRequest, shop_id: int, version: str) -> HttpResponseBase:
    """The store's logo for its emails: public (mail clients fetch it), found only with the
    version derived from the secret key and the stored name."""
    shop = Shop.objects.filter(pk=shop_id).exclude(email_logo="").first()
    if shop is None or logo_version(shop.email_logo) != version:
        raise Http404("No such logo")
    content_type = mimetypes.guess_type(shop.email_logo)[0] or "application/octet-stream"
    response = FileResponse(storage_open(shop.email_logo), content_type=content_type)
    response["Cache-Control"] = "public, max-age=86400"
    return response


# --- order settings (sync) -----------------------------------------------------------------------

order_settings = sync_view.order_settings
sync_start = sync_view.sync_start
sync_progress = sync_view.sync_progress
