"""The customer's side of a download link: the page (free to open) and the file (charged in bytes).

The file is checked and charged here, always; the bytes then go out one of three ways: gunicorn
sends the local file with sendfile (the default), nginx sends it after an `X-Accel-Redirect`
(IMPRINT_ACCEL_REDIRECT_PREFIX), or object storage sends it from a short-lived presigned URL the
customer is redirected to (s3:// storage). With nginx and object storage the byte range is served
by them: Imprint charges the range the request's Range header asks for, computed as it would
serve it itself, with the validators (ETag, Last-Modified) of the server that sends the bytes.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.utils.http import content_disposition_header, http_date, quote_etag
from django.views.decorators.http import require_http_methods

from imprint.delivery.models import DownloadGrant
from imprint.delivery.selectors import (
    grant_file_accel_path,
    grant_file_open,
    grant_file_presigned_url,
    grant_file_validators,
    grant_for_token,
)
from imprint.delivery.services import (
    GrantState,
    download_event_record,
    grant_link_token,
    grant_redeem,
    grant_state,
)
from imprint.lib.ranged import (
    ByteRange,
    RangedFileResponse,
    RangeVerdict,
    range_not_satisfiable,
    range_select,
)

logger = logging.getLogger(__name__)

# Expired and used-up links are gone for good (410); the others are refused by the store (403).
_REFUSAL_STATUS = {
    GrantState.EXPIRED: 410,
    GrantState.EXHAUSTED: 410,
    GrantState.RESTRICTED: 403,
    GrantState.REFUNDED: 403,
    GrantState.CANCELLED: 403,
}


def _private(response: HttpResponseBase, *, cache_control: str = "no-store") -> HttpResponseBase:
    # The token is in the URL: no cache may keep the page, no search engine may index it, and no
    # Referer header may carry it to another site.
    response.headers["Cache-Control"] = cache_control
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _not_found(request: HttpRequest) -> HttpResponseBase:
    return _private(render(request, "delivery/not_found.html", status=404))


def _refused(request: HttpRequest, grant: DownloadGrant, state: GrantState) -> HttpResponseBase:
    """Why the link no longer works, in plain words, and how to reach the store."""
    context = {
        "grant": grant,
        "shop": grant.shop,
        "order": grant.order,
        "reason": state.name.lower(),
    }
    # A state that is active again (restored between our check and the charge) asks for a retry.
    status = _REFUSAL_STATUS.get(state, 409)
    return _private(render(request, "delivery/unavailable.html", context, status=status))


def _client_ip(request: HttpRequest) -> str | None:
    # X-Forwarded-For is only trusted behind our own proxy, which puts the client first;
    # otherwise any client could write whatever it likes into the download history.
    raw = request.META.get("REMOTE_ADDR", "")
    if settings.BEHIND_PROXY and request.META.get("HTTP_X_FORWARDED_FOR"):
        raw = request.META["HTTP_X_FORWARDED_FOR"].split(",")[0]
    try:
        return str(ipaddress.ip_address(raw.strip()))
    except ValueError:
        return None


@require_http_methods(["GET", "HEAD"])
def download_page(request: HttpRequest, token: str) -> HttpResponseBase:
    """The branded page a link opens. It never charges: mail scanners and previews fetch it."""
    grant = grant_for_token(token=token)
    if grant is None:
        return _not_found(request)
    state = grant_state(grant)
    if state is not GrantState.ACTIVE:
        return _refused(request, grant, state)
    context = {
        "grant": grant,
        "shop": grant.shop,
        "order": grant.order,
        "token": grant_link_token(grant),
    }
    return _private(render(request, "delivery/download.html", context))


@require_http_methods(["GET", "HEAD"])
def download_file(request: HttpRequest, token: str) -> HttpResponseBase:
    """The file, whole or one byte range, charged exactly the bytes it is about to send."""
    grant = grant_for_token(token=token)
    if grant is None:
        return _not_found(request)
    state = grant_state(grant)
    if state is not GrantState.ACTIVE:
        return _refused(request, grant, state)

    # Opened before charging, so a file missing from storage costs the customer nothing.
    try:
        file = grant_file_open(grant=grant)
    except OSError:
        logger.exception("File %s of grant %s cannot be opened", grant.file.storage_name, grant.pk)
        context = {"grant": grant, "shop": grant.shop, "order": grant.order}
        return _private(render(request, "delivery/file_missing.html", context, status=503))

    validators = grant_file_validators(grant=grant, file=file)
    etag, last_modified = validators.etag, validators.last_modified
    chosen = range_select(
        range_header=request.headers.get("Range"),
        if_range=request.headers.get("If-Range"),
        size=grant.file_size,
        etag=etag,
        last_modified=last_modified,
    )
    if chosen is RangeVerdict.UNSATISFIABLE:
        # Nothing is sent, so nothing is charged.
        file.close()
        return _private(range_not_satisfiable(size=grant.file_size))
    byte_range = chosen if isinstance(chosen, ByteRange) else None
    start, nbytes = (byte_range.start, byte_range.length) if byte_range else (0, grant.file_size)

    if request.method == "GET":  # HEAD answers the same headers and sends nothing: no charge
        with transaction.atomic():
            charged = grant_redeem(grant_id=grant.pk, nbytes=nbytes)
            if charged:
                download_event_record(
                    grant_id=grant.pk,
                    ip=_client_ip(request),
                    user_agent=request.headers.get("User-Agent", ""),
                    start=start,
                    end=start + nbytes - 1,
                    nbytes=nbytes,
                )
        if not charged:
            # Another request used the allowance up, or the store changed the link, since we
            # looked: reload to say which.
            file.close()
            grant = grant_for_token(token=token)
            if grant is None:
                return _not_found(request)
            return _refused(request, grant, grant_state(grant))

    content_type = grant.file.content_type or "application/octet-stream"
    presigned = grant_file_presigned_url(grant=grant)
    if presigned is not None:
        file.close()
        return _private(_presigned_redirect(presigned))
    accel_path = grant_file_accel_path(grant=grant)
    if accel_path is not None:
        file.close()
        return _private(
            _accel_redirect(
                accel_path,
                filename=grant.filename,
                content_type=content_type,
                etag=etag,
                last_modified=last_modified,
            ),
            cache_control="private, no-store",
        )

    response = RangedFileResponse(
        file,
        size=grant.file_size,
        byte_range=byte_range,
        etag=etag,
        last_modified=last_modified,
        filename=grant.filename,
        content_type=content_type,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    return _private(response, cache_control="private, no-store")


def _presigned_redirect(url: str) -> HttpResponse:
    """302 to object storage. The client repeats its Range (and If-Range) there, and object
    storage sends exactly the part Imprint charged: the validators were object storage's own."""
    response = HttpResponse(status=302)
    response.headers["Location"] = url
    return response


def _accel_redirect(
    path: str,
    *,
    filename: str,
    content_type: str,
    etag: str,
    last_modified: dt.datetime | None,
) -> HttpResponse:
    """No body: nginx replaces this response with the file at `path` (an `internal` location),
    keeping these headers, and answers the Range itself with sendfile."""
    response = HttpResponse(content_type=content_type)
    response.headers["X-Accel-Redirect"] = path
    disposition = content_disposition_header(as_attachment=True, filename=filename)
    response.headers["Content-Disposition"] = disposition or "attachment"
    response.headers["X-Content-Type-Options"] = "nosniff"
    # nginx judges an If-Range against these, as Imprint did when it charged.
    response.headers["ETag"] = quote_etag(etag)
    if last_modified is not None:
        response.headers["Last-Modified"] = http_date(last_modified.timestamp())
    return response
