"""POST /webhooks/shopify: every topic, answered in milliseconds; the work happens in a job."""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.views.decorators.csrf import csrf_exempt

from imprint.shopify.webhooks import WebhookRejected, webhook_receive, webhook_verify

logger = logging.getLogger(__name__)


def _read_body(request: HttpRequest, limit: int) -> bytes:
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if not declared.isdigit():
        raise WebhookRejected(400, "Invalid Content-Length")
    if int(declared) > limit:
        raise WebhookRejected(413, "Body too large")
    # Read from the stream ourselves: request.body would apply Django's own upload cap and
    # answer a 400 where a 413 is the honest answer.
    body = request.read(limit + 1)
    if len(body) > limit:
        raise WebhookRejected(413, "Body too large")
    return body


@csrf_exempt
def webhook(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        body = _read_body(request, settings.WEBHOOK_MAX_BYTES)
        headers = dict(request.headers)
        webhook_verify(headers=headers, body=body)
        received = webhook_receive(headers=headers, body=body)
    except WebhookRejected as rejected:
        logger.info("webhook rejected (%s): %s", rejected.status, rejected.reason)
        return HttpResponse(rejected.reason, status=rejected.status, content_type="text/plain")
    return HttpResponse(received.status, content_type="text/plain")
