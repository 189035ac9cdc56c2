"""Downloads from object storage: Imprint checks and charges, then redirects to a short-lived
presigned URL; a real HTTP client follows it to the local S3 server and gets the bytes."""

from __future__ import annotations

import http.client
import io
import os
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from imprint.catalog.services import file_store
from imprint.catalog.storage import storage_delete
from imprint.delivery.models import DownloadEvent, DownloadGrant
from imprint.delivery.services import grant_link_token, grants_issue
from tests.catalog import test_s3
from tests.catalog.test_s3 import S3Server
from tests.factories import AttachmentFactory, LineItemFactory, OrderFactory, ShopFactory

pytestmark = pytest.mark.django_db

CONTENT = os.urandom(300_000)

# The local S3 server and a fresh bucket as Imprint's storage (see tests/catalog/test_s3.py).
_moto_server = test_s3._moto_server
s3_storage = test_s3.s3_storage


def _grant(max_downloads: int | None = 5) -> DownloadGrant:
    shop = ShopFactory(download_max=max_downloads, download_expiry_days=30)
    file = file_store(
        shop=shop, source=io.BytesIO(CONTENT), name="Field Guide.pdf", content_type=None
    )
    order = OrderFactory(shop=shop)
    line = LineItemFactory(order=order)
    AttachmentFactory(shop=shop, file=file, product_id=line.product_id)
    [grant] = grants_issue(order=order)
    return grant


def _url(grant: DownloadGrant) -> str:
    return f"/d/{grant_link_token(grant)}/file"


def _follow(location: str, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    parts = urlsplit(location)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.request("GET", f"{parts.path}?{parts.query}", headers=headers or {})
    response = conn.getresponse()
    return response, response.read()


def test_download_redirects_to_a_presigned_url_with_the_filename(
    client: Client, s3_storage: S3Server
) -> None:
    grant = _grant()

    response = client.get(_url(grant))

    assert response.status_code == 302
    assert response["Cache-Control"] == "no-store"
    location = response["Location"]
    assert location.startswith(f"{s3_storage.endpoint}/{s3_storage.bucket}/imprint/shops/")
    query = parse_qs(urlsplit(location).query)
    assert query["X-Amz-Expires"] == ["21600"]  # six hours: a slow line finishes a large file
    fetched, body = _follow(location)
    assert fetched.status == 200
    assert body == CONTENT
    assert fetched.getheader("Content-Disposition") == 'attachment; filename="Field Guide.pdf"'
    assert fetched.getheader("Content-Type") == "application/pdf"
    grant.refresh_from_db()
    assert grant.bytes_used == len(CONTENT)
    event = DownloadEvent.objects.get(grant=grant)
    assert (event.range_start, event.range_end) == (0, len(CONTENT) - 1)


def test_a_range_is_charged_and_served_by_object_storage(
    client: Client, s3_storage: S3Server
) -> None:
    grant = _grant()
    first, _ = _follow(client.get(_url(grant))["Location"])
    etag = first.getheader("ETag")

    # A resume: the client repeats Range and If-Range (object storage's ETag) on the redirect.
    headers = {"Range": "bytes=100000-", "If-Range": etag}
    response = client.get(_url(grant), HTTP_RANGE=headers["Range"], HTTP_IF_RANGE=etag)
    part, tail = _follow(response["Location"], headers)

    assert response.status_code == 302
    assert part.status == 206
    assert tail == CONTENT[100000:]
    grant.refresh_from_db()
    assert grant.bytes_used == len(CONTENT) + len(CONTENT) - 100000
    last = DownloadEvent.objects.filter(grant=grant).latest("pk")
    assert (last.range_start, last.range_end, last.bytes_charged) == (
        100000,
        len(CONTENT) - 1,
        len(CONTENT) - 100000,
    )


def test_a_stale_if_range_is_charged_the_whole_file(client: Client, s3_storage: S3Server) -> None:
    # S3 answers a Range whose If-Range does not match with the whole object, and Imprint
    # charges that. (moto, the test's S3 server, ignores If-Range: only the charge is checked.)
    grant = _grant()

    response = client.get(_url(grant), HTTP_RANGE="bytes=100000-", HTTP_IF_RANGE='"another"')

    assert response.status_code == 302
    grant.refresh_from_db()
    assert grant.bytes_used == len(CONTENT)


def test_the_expiry_of_presigned_urls_is_configurable(
    client: Client, s3_storage: S3Server, settings
) -> None:
    settings.STORAGES["default"]["OPTIONS"]["querystring_expire"] = 600
    settings.STORAGES = {**settings.STORAGES}  # reload the storage
    settings.DOWNLOAD_URL_SECONDS = 900
    grant = _grant()

    response = client.get(_url(grant))

    assert parse_qs(urlsplit(response["Location"]).query)["X-Amz-Expires"] == ["900"]


def test_a_used_up_link_gets_no_presigned_url(client: Client, s3_storage: S3Server) -> None:
    grant = _grant(max_downloads=1)
    client.get(_url(grant))

    response = client.get(_url(grant))

    assert response.status_code == 410
    assert "Location" not in response
    assert DownloadEvent.objects.count() == 1


def test_an_object_missing_from_the_bucket_is_not_charged(
    client: Client, s3_storage: S3Server
) -> None:
    grant = _grant()
    storage_delete(grant.file.storage_name)

    response = client.get(_url(grant))

    assert response.status_code == 503
    assert "Location" not in response
    grant.refresh_from_db()
    assert grant.bytes_used == 0
    assert DownloadEvent.objects.count() == 0


def test_head_redirects_without_a_charge(client: Client, s3_storage: S3Server) -> None:
    grant = _grant()

    response = client.head(_url(grant))

    assert response.status_code == 302
    grant.refresh_from_db()
    assert grant.bytes_used == 0
