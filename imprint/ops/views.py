"""Endpoints for load balancers and monitoring: /readyz and /metrics (/healthz is in imprint.web)."""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from imprint.ops.selectors import metrics_collect, metrics_text, readiness

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@require_GET
def readyz(request: HttpRequest) -> HttpResponse:
    """Readiness: 200 when the database and storage answer, 503 otherwise, so a load balancer
    sends no traffic to a process that could only fail it. Says which check failed, nothing more."""
    checks = readiness()
    ready = all(checks.values())
    body = {
        "status": "ready" if ready else "unavailable",
        **{name: "ok" if ok else "unreachable" for name, ok in checks.items()},
    }
    response = JsonResponse(body, status=200 if ready else 503)
    response.headers["Cache-Control"] = "no-store"
    return response


def _loopback(request: HttpRequest) -> bool:
    # A proxy on the same machine makes every visitor look local: a forwarded request is not.
    if request.META.get("HTTP_X_FORWARDED_FOR"):
        return False
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


def _authorized(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if not token:
        return _loopback(request)
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token)


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Counts an operator wants, in Prometheus' text format. With IMPRINT_METRICS_TOKEN set it
    answers only `Authorization: Bearer TOKEN`; without, only loopback clients."""
    if not _authorized(request):
        response = HttpResponse("Forbidden\n", status=403, content_type="text/plain")
        if settings.METRICS_TOKEN:
            response.status_code = 401
            response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    response = HttpResponse(metrics_text(metrics_collect()), content_type=PROMETHEUS_CONTENT_TYPE)
    response.headers["Cache-Control"] = "no-store"
    return response
