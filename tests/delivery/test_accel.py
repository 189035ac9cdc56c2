"""Behind nginx (IMPRINT_ACCEL_REDIRECT_PREFIX): Imprint checks and charges, then hands the file to
nginx with X-Accel-Redirect and sends no body. nginx itself is exercised in test_accel_nginx.py."""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.storage import default_storage
from django.test import Client

from imprint.delivery.models import DownloadEvent, DownloadGrant
from imprint.delivery.services import grant_link_token, grants_issue
from tests.factories import (
    AttachmentFactory,
    DigitalFileFactory,
    LineItemFactory,
    OrderFactory,
    ShopFactory,
)

pytestmark = pytest.mark.django_db

CONTENT = bytes(range(256)) * 8


@pytest.fixture(autouse=True)
def _accel(settings) -> None:
    settings.ACCEL_REDIRECT_PREFIX = "/_protected/"


def _grant(*, max_downloads: int | None = 5, name: str = "Field Guide.pdf") -> DownloadGrant:
    shop = ShopFactory(download_max=max_downloads, download_expiry_days=30)
    file = DigitalFileFactory(shop=shop, name=name, content=CONTENT, content_type="application/pdf")
    order = OrderFactory(shop=shop)
    line = LineItemFactory(order=order)
    AttachmentFactory(shop=shop, file=file, product_id=line.product_id)
    [grant] = grants_issue(order=order)
    return grant


def _url(grant: DownloadGrant) -> str:
    return f"/d/{grant_link_token(grant)}/file"


def test_download_is_handed_to_nginx_after_charging_the_whole_file(client: Client) -> None:
    grant = _grant()

    response = client.get(_url(grant), HTTP_USER_AGENT="curl/8")

    assert response.status_code == 200
    assert response["X-Accel-Redirect"] == "/_protected/test/Field%20Guide.pdf"
    assert response.content == b""
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="Field Guide.pdf"'
    assert response["ETag"] == f'"{hashlib.sha256(CONTENT).hexdigest()}"'
    assert response["Cache-Control"] == "private, no-store"
    grant.refresh_from_db()
    assert grant.bytes_used == len(CONTENT)
    event = DownloadEvent.objects.get(grant=grant)
    assert (event.range_start, event.range_end, event.bytes_charged) == (0, 2047, 2048)


def test_a_range_is_charged_as_requested_and_left_to_nginx(client: Client) -> None:
    grant = _grant()

    response = client.get(_url(grant), HTTP_RANGE="bytes=1000-1499")

    # nginx answers 206 itself from the same Range header; Imprint only says where the file is.
    assert response.status_code == 200
    assert response["X-Accel-Redirect"] == "/_protected/test/Field%20Guide.pdf"
    assert "Content-Range" not in response
    grant.refresh_from_db()
    assert grant.bytes_used == 500
    event = DownloadEvent.objects.get(grant=grant)
    assert (event.range_start, event.range_end, event.bytes_charged) == (1000, 1499, 500)


def test_a_stale_if_range_is_charged_the_whole_file(client: Client) -> None:
    grant = _grant()

    client.get(_url(grant), HTTP_RANGE="bytes=1000-", HTTP_IF_RANGE='"not-this-version"')

    grant.refresh_from_db()
    assert grant.bytes_used == len(CONTENT)


def test_head_is_handed_to_nginx_without_a_charge(client: Client) -> None:
    grant = _grant()

    response = client.head(_url(grant))

    assert response["X-Accel-Redirect"] == "/_protected/test/Field%20Guide.pdf"
    grant.refresh_from_db()
    assert grant.bytes_used == 0
    assert DownloadEvent.objects.count() == 0


def test_a_used_up_link_is_refused_and_not_handed_to_nginx(client: Client) -> None:
    grant = _grant(max_downloads=1)
    client.get(_url(grant))

    response = client.get(_url(grant))

    assert response.status_code == 410
    assert "X-Accel-Redirect" not in response
    grant.refresh_from_db()
    assert grant.bytes_used == len(CONTENT)
    assert DownloadEvent.objects.count() == 1


def test_a_file_missing_from_storage_is_not_handed_to_nginx_or_charged(client: Client) -> None:
    grant = _grant()
    default_storage.delete(grant.file.storage_name)

    response = client.get(_url(grant))

    assert response.status_code == 503
    assert "X-Accel-Redirect" not in response
    grant.refresh_from_db()
    assert grant.bytes_used == 0
    assert DownloadEvent.objects.count() == 0


def test_unsatisfiable_range_answers_416_without_nginx(client: Client) -> None:
    grant = _grant()

    response = client.get(_url(grant), HTTP_RANGE="bytes=5000-")

    assert response.status_code == 416
    assert "X-Accel-Redirect" not in response
    grant.refresh_from_db()
    assert grant.bytes_used == 0


def test_without_the_prefix_imprint_sends_the_bytes_itself(client: Client, settings) -> None:
    settings.ACCEL_REDIRECT_PREFIX = ""
    grant = _grant()

    response = client.get(_url(grant))

    assert "X-Accel-Redirect" not in response
    assert b"".join(response.streaming_content) == CONTENT
