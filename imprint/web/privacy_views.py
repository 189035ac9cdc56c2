"""The Privacy page: Shopify's privacy requests about the store's customers, and the reports
the merchant downloads to answer a customer's data request."""

from __future__ import annotations

import json

from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from imprint.shops.selectors import privacy_report_get, privacy_requests_list
from imprint.web.auth import ShopRequest, shop_required


@require_GET
@shop_required
def privacy(request: ShopRequest) -> HttpResponse:
    return render(
        request,
        "web/privacy.html",
        {"nav": "privacy", "requests": privacy_requests_list(shop=request.shop)},
    )


@require_GET
@never_cache  # a customer's personal data: no cache keeps a copy
@shop_required
def privacy_report(request: ShopRequest, request_id: int) -> HttpResponse:
    found = privacy_report_get(shop=request.shop, request_id=request_id)
    if found is None:
        raise Http404("No such report")
    body = json.dumps(found.report, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="imprint-data-request-{found.pk}.json"'
    return response
