from __future__ import annotations

import datetime as dt
import hashlib

import pytest
import time_machine
from django.core.files.storage import default_storage
from django.test import Client
from django.utils.http import http_date

from imprint.delivery.models import DownloadEvent, DownloadGrant, Restriction
from imprint.delivery.services import grant_link_token, grants_issue, grants_restrict
from imprint.shops.models import Shop
from tests.concurrency import at_once
from tests.factories import (
    AttachmentFactory,
    DigitalFileFactory,
    LineItemFactory,
    OrderFactory,
    ShopFactory,
)

CONTENT = bytes(range(256)) * 8  # 2048 bytes, every byte value, so an off-by-one shows
NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def _shop(**kwargs: object) -> Shop:
    defaults: dict[str, object] = {"name": "Northern Prints", "email": "help@northern.example"}
    return ShopFactory(**{**defaults, **kwargs})


def _grant(
    *,
    content: bytes = CONTENT,
    name: str = "guide.pdf",
    max_downloads: int | None = 5,
    expiry_days: int | None = 30,
    content_type: str = "application/pdf",
) -> DownloadGrant:
    shop = _shop(download_max=max_downloads, download_expiry_days=expiry_days)
    file = DigitalFileFactory(shop=shop, name=name, content=content, content_type=content_type)
    order = OrderFactory(shop=shop)
    line = LineItemFactory(order=order)
    AttachmentFactory(shop=shop, file=file, product_id=line.product_id)
    [grant] = grants_issue(order=order)
    return grant


def _page_url(grant: DownloadGrant) -> str:
    return f"/d/{grant_link_token(grant)}"


def _file_url(grant: DownloadGrant) -> str:
    return f"/d/{grant_link_token(grant)}/file"


def _body(response) -> bytes:  # type: ignore[no-untyped-def]
    return b"".join(response.streaming_content) if response.streaming else response.content


def _fetch(client: Client, grant: DownloadGrant, method: str = "get", **kwargs: object):  # type: ignore[no-untyped-def]
    """The file response and its body, read at once: a streamed response closes its file only
    when its body has been read, as a WSGI server does."""
    response = getattr(client, method)(_file_url(grant), **kwargs)
    return response, _body(response)


def _bytes_used(grant: DownloadGrant) -> int:
    return DownloadGrant.objects.get(pk=grant.pk).bytes_used


def _assert_private(response) -> None:  # type: ignore[no-untyped-def]
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    assert response["Referrer-Policy"] == "no-referrer"


# --- the page ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_page_shows_the_file_facts_and_charges_nothing(client: Client) -> None:
    with time_machine.travel(NOW, tick=False):
        grant = _grant(max_downloads=3, expiry_days=30)
        response = client.get(_page_url(grant))

    html = response.content.decode()
    assert response.status_code == 200
    assert "<title>guide.pdf · Northern Prints</title>" in html
    assert '<p class="shop">Northern Prints</p>' in html
    assert '<h1 id="heading" class="filename">guide.pdf</h1>' in html
    assert "<dt>Size</dt><dd>2.0\xa0KB</dd>" in html
    assert "<dt>Downloads left</dt><dd>3 of 3</dd>" in html
    assert ">31 March 2026, 12:00 UTC</time>" in html
    assert f'<a class="button" href="{_file_url(grant)}" download>Download guide.pdf</a>' in html
    assert response["Cache-Control"] == "no-store"
    _assert_private(response)
    assert _bytes_used(grant) == 0
    assert DownloadEvent.objects.filter(grant=grant).count() == 0


@pytest.mark.django_db
def test_page_of_an_unlimited_grant_says_unlimited_and_never_expires(client: Client) -> None:
    grant = _grant(max_downloads=None, expiry_days=None)
    html = client.get(_page_url(grant)).content.decode()
    assert "<dt>Downloads left</dt><dd>Unlimited</dd>" in html
    assert "<dt>Expires</dt><dd>Never expires</dd>" in html


@pytest.mark.django_db
def test_page_counts_downloads_left_after_a_download(client: Client) -> None:
    grant = _grant(max_downloads=3)
    assert _fetch(client, grant)[1] == CONTENT
    html = client.get(_page_url(grant)).content.decode()
    assert "<dt>Downloads left</dt><dd>2 of 3</dd>" in html


@pytest.mark.django_db
def test_opening_the_page_many_times_never_uses_a_download(client: Client) -> None:
    grant = _grant(max_downloads=1)
    for _ in range(5):
        assert client.get(_page_url(grant)).status_code == 200
    assert client.head(_page_url(grant)).status_code == 200
    assert _bytes_used(grant) == 0
    assert _fetch(client, grant)[0].status_code == 200


# --- links that do not open anything ----------------------------------------------------------


def _forged(grant: DownloadGrant) -> str:
    head, _, mac = grant_link_token(grant).partition(".")
    flipped = ("A" if mac[0] != "A" else "B") + mac[1:]
    return f"{head}.{flipped}"


BAD_TOKENS = [
    "garbage",
    "not.base64!!",
    "a" * 500,
    "AQ." + "x" * 200,  # a well-formed id, an overlong MAC
    "%%%.%%%",
    "__________8.abc",  # an id beyond any database key
    ".abc",
    "AQ.",
]


@pytest.mark.django_db
@pytest.mark.parametrize("suffix", ["", "/file"])
@pytest.mark.parametrize("token", BAD_TOKENS)
def test_malformed_tokens_get_the_friendly_404(client: Client, token: str, suffix: str) -> None:
    grant = _grant()
    response = client.get(f"/d/{token}{suffix}")
    assert response.status_code == 404
    assert "This download link is not valid" in response.content.decode()
    _assert_private(response)
    assert _bytes_used(grant) == 0
    assert DownloadEvent.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("suffix", ["", "/file"])
def test_forged_token_gets_404_and_changes_nothing(client: Client, suffix: str) -> None:
    grant = _grant()
    response = client.get(f"/d/{_forged(grant)}{suffix}")
    assert response.status_code == 404
    assert "This download link is not valid" in response.content.decode()
    assert _bytes_used(grant) == 0
    assert DownloadEvent.objects.filter(grant=grant).count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("suffix", ["", "/file"])
def test_token_of_an_older_generation_gets_404(client: Client, suffix: str) -> None:
    grant = _grant()
    old_token = grant_link_token(grant)
    DownloadGrant.objects.filter(pk=grant.pk).update(generation=grant.generation + 1)
    grant.refresh_from_db()

    response = client.get(f"/d/{old_token}{suffix}")

    assert response.status_code == 404
    assert _bytes_used(grant) == 0
    assert DownloadEvent.objects.filter(grant=grant).count() == 0
    assert client.get(_page_url(grant)).status_code == 200  # the new link works


@pytest.mark.django_db
def test_token_of_a_deleted_grant_gets_404(client: Client) -> None:
    grant = _grant()
    url = _file_url(grant)
    DownloadGrant.objects.filter(pk=grant.pk).delete()
    assert client.get(url).status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("suffix", ["", "/file"])
def test_only_get_and_head_are_allowed(client: Client, suffix: str) -> None:
    grant = _grant()
    url = f"{_page_url(grant)}{suffix}"
    assert client.post(url).status_code == 405
    assert client.put(url).status_code == 405
    assert client.delete(url).status_code == 405
    assert _bytes_used(grant) == 0


# --- the file ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_full_download_sends_the_stored_bytes_and_charges_them(client: Client) -> None:
    grant = _grant()
    response, body = _fetch(client, grant)

    with default_storage.open(grant.file.storage_name, "rb") as stored:
        assert body == stored.read()
    assert body == CONTENT
    assert response.status_code == 200
    assert response["Content-Length"] == "2048"
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="guide.pdf"'
    assert response["Accept-Ranges"] == "bytes"
    assert response["ETag"] == f'"{hashlib.sha256(CONTENT).hexdigest()}"'
    assert response["Last-Modified"] == http_date(grant.file.created_at.timestamp())
    assert response["Cache-Control"] == "private, no-store"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "Content-Range" not in response
    _assert_private(response)
    grant.refresh_from_db()
    assert grant.bytes_used == 2048
    assert grant.downloads_used == 1
    assert grant.last_download_at is not None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-9", 0, 9),
        ("bytes=10-", 10, 2047),
        ("bytes=-5", 2043, 2047),
        ("bytes=2000-9999", 2000, 2047),
    ],
)
def test_a_range_sends_and_charges_exactly_that_range(
    client: Client, header: str, start: int, end: int
) -> None:
    grant = _grant()
    response, response_body = _fetch(client, grant, headers={"Range": header})

    assert response.status_code == 206
    assert response_body == CONTENT[start : end + 1]
    assert response["Content-Range"] == f"bytes {start}-{end}/2048"
    assert response["Content-Length"] == str(end - start + 1)
    assert _bytes_used(grant) == end - start + 1
    event = DownloadEvent.objects.get(grant=grant)
    assert (event.range_start, event.range_end, event.bytes_charged) == (
        start,
        end,
        end - start + 1,
    )


@pytest.mark.django_db
def test_a_range_past_the_end_gets_416_and_is_not_charged(client: Client) -> None:
    grant = _grant()
    response, body = _fetch(client, grant, headers={"Range": "bytes=2048-"})

    assert response.status_code == 416
    assert response["Content-Range"] == "bytes */2048"
    assert body == b""
    assert _bytes_used(grant) == 0
    assert DownloadEvent.objects.filter(grant=grant).count() == 0


@pytest.mark.django_db
def test_if_range_with_the_current_etag_gets_the_range(client: Client) -> None:
    grant = _grant()
    etag = f'"{hashlib.sha256(CONTENT).hexdigest()}"'
    response, response_body = _fetch(
        client, grant, headers={"Range": "bytes=100-199", "If-Range": etag}
    )
    assert response.status_code == 206
    assert response_body == CONTENT[100:200]
    assert _bytes_used(grant) == 100


@pytest.mark.django_db
def test_if_range_with_the_last_modified_date_gets_the_range(client: Client) -> None:
    grant = _grant()
    when = http_date(grant.file.created_at.timestamp())
    response, response_body = _fetch(
        client, grant, headers={"Range": "bytes=100-199", "If-Range": when}
    )
    assert response.status_code == 206
    assert response_body == CONTENT[100:200]


@pytest.mark.django_db
def test_if_range_with_another_etag_gets_the_whole_file_and_is_charged_whole(
    client: Client,
) -> None:
    grant = _grant()
    response, response_body = _fetch(
        client, grant, headers={"Range": "bytes=100-199", "If-Range": '"an-older-version"'}
    )
    assert response.status_code == 200
    assert response_body == CONTENT
    assert "Content-Range" not in response
    assert _bytes_used(grant) == 2048


@pytest.mark.django_db
def test_several_ranges_get_the_whole_file(client: Client) -> None:
    grant = _grant()
    response, response_body = _fetch(client, grant, headers={"Range": "bytes=0-9,20-29"})
    assert response.status_code == 200
    assert response_body == CONTENT
    assert _bytes_used(grant) == 2048


@pytest.mark.django_db
def test_content_disposition_keeps_a_unicode_filename(client: Client) -> None:
    grant = _grant(name="Über Straße \u2013 2026.pdf")
    response, response_body = _fetch(client, grant)
    assert response["Content-Disposition"] == (
        "attachment; filename*=utf-8''%C3%9Cber%20Stra%C3%9Fe%20%E2%80%93%202026.pdf"
    )
    assert response_body == CONTENT


@pytest.mark.django_db
def test_an_empty_file_downloads_with_200_and_no_body(client: Client) -> None:
    grant = _grant(content=b"", name="empty.txt", content_type="text/plain")
    response, response_body = _fetch(client, grant)
    assert response.status_code == 200
    assert response["Content-Length"] == "0"
    assert response_body == b""
    assert _bytes_used(grant) == 1  # an empty file still costs one download


@pytest.mark.django_db
def test_head_answers_headers_without_body_or_charge(client: Client) -> None:
    grant = _grant(max_downloads=1)
    response, response_body = _fetch(client, grant, method="head")
    assert response.status_code == 200
    assert response["Content-Length"] == "2048"
    assert response["Content-Disposition"] == 'attachment; filename="guide.pdf"'
    assert response_body == b""

    ranged, ranged_body = _fetch(client, grant, headers={"Range": "bytes=0-9"}, method="head")
    assert ranged.status_code == 206
    assert ranged["Content-Length"] == "10"
    assert ranged_body == b""

    assert _bytes_used(grant) == 0
    assert DownloadEvent.objects.filter(grant=grant).count() == 0
    assert _fetch(client, grant)[0].status_code == 200  # the one download is still there


@pytest.mark.django_db
def test_a_file_missing_from_storage_is_not_charged(client: Client) -> None:
    grant = _grant()
    default_storage.delete(grant.file.storage_name)
    response, body = _fetch(client, grant)
    html = body.decode()
    assert response.status_code == 503
    assert "This file cannot be sent right now" in html
    assert "Nothing was counted against your downloads." in html
    assert _bytes_used(grant) == 0
    assert DownloadEvent.objects.filter(grant=grant).count() == 0


# --- counting ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_second_download_past_a_limit_of_one_gets_410_with_the_reason(client: Client) -> None:
    grant = _grant(max_downloads=1)
    assert _fetch(client, grant)[1] == CONTENT

    second, _ = _fetch(client, grant)

    html = second.content.decode()
    assert second.status_code == 410
    assert (
        "The download limit for this link has been reached: it allowed one download, which has been used."
        in html
    )
    assert (
        '<a href="mailto:help@northern.example?subject=Download%20for%20order%20'
        f'{grant.order.name.replace("#", "%23")}">help@northern.example</a>'
    ) in html
    assert f"mention order <strong>{grant.order.name}</strong>" in html
    assert second["Cache-Control"] == "no-store"
    _assert_private(second)
    assert _bytes_used(grant) == 2048
    assert DownloadEvent.objects.filter(grant=grant).count() == 1
    page = client.get(_page_url(grant))
    assert page.status_code == 410
    assert "The download limit for this link has been reached" in page.content.decode()


@pytest.mark.django_db
def test_two_halves_of_one_download_count_once_and_the_next_request_is_refused(
    client: Client,
) -> None:
    grant = _grant(max_downloads=1)
    first, first_body = _fetch(client, grant, headers={"Range": "bytes=0-1023"})
    second, second_body = _fetch(client, grant, headers={"Range": "bytes=1024-"})

    assert (first.status_code, second.status_code) == (206, 206)
    assert first_body + second_body == CONTENT
    grant.refresh_from_db()
    assert grant.bytes_used == 2048
    assert grant.downloads_used == 1

    third, _ = _fetch(client, grant, headers={"Range": "bytes=0-0"})
    assert third.status_code == 410
    assert _bytes_used(grant) == 2048
    assert DownloadEvent.objects.filter(grant=grant).count() == 2


@pytest.mark.django_db
def test_a_half_download_leaves_the_rest_of_the_allowance(client: Client) -> None:
    grant = _grant(max_downloads=2)
    _fetch(client, grant, headers={"Range": "bytes=0-1023"})
    grant.refresh_from_db()
    assert (grant.bytes_used, grant.downloads_used, grant.downloads_left) == (1024, 1, 1)
    assert _fetch(client, grant)[1] == CONTENT
    assert _fetch(client, grant)[1] == CONTENT  # 1024 + 2048 < 2 x 2048: still allowed
    refused, _ = _fetch(client, grant)
    assert refused.status_code == 410
    assert "it allowed 2 downloads, and all of them have been used." in refused.content.decode()
    assert _bytes_used(grant) == 1024 + 2048 + 2048


@pytest.mark.django_db
def test_the_download_event_records_ip_and_user_agent(client: Client) -> None:
    grant = _grant()
    _fetch(
        client,
        grant,
        REMOTE_ADDR="198.51.100.23",
        headers={"User-Agent": "Mozilla/5.0 (Test)", "X-Forwarded-For": "203.0.113.9"},
    )
    event = DownloadEvent.objects.get(grant=grant)
    # Not behind a proxy: X-Forwarded-For is whatever the client wrote, so it is ignored.
    assert (event.ip, event.user_agent) == ("198.51.100.23", "Mozilla/5.0 (Test)")
    assert (event.range_start, event.range_end, event.bytes_charged) == (0, 2047, 2048)


@pytest.mark.django_db
def test_behind_a_proxy_the_first_forwarded_address_is_recorded(client: Client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.BEHIND_PROXY = True
    grant = _grant()
    _fetch(
        client,
        grant,
        REMOTE_ADDR="10.0.0.2",
        headers={"X-Forwarded-For": "2001:db8::1, 10.0.0.1", "User-Agent": "curl/8.5.0"},
    )
    event = DownloadEvent.objects.get(grant=grant)
    assert (event.ip, event.user_agent) == ("2001:db8::1", "curl/8.5.0")


@pytest.mark.django_db
def test_an_unparsable_forwarded_address_is_recorded_as_unknown(client: Client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.BEHIND_PROXY = True
    grant = _grant()
    _fetch(client, grant, headers={"X-Forwarded-For": "not-an-ip"})
    assert DownloadEvent.objects.get(grant=grant).ip is None


# --- links that no longer work ----------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("suffix", ["", "/file"])
def test_an_expired_link_gets_410_with_the_expiry_date(client: Client, suffix: str) -> None:
    with time_machine.travel(NOW, tick=False):
        grant = _grant(expiry_days=30)
    with time_machine.travel(NOW + dt.timedelta(days=30, seconds=1), tick=False):
        response = client.get(f"{_page_url(grant)}{suffix}")

    html = response.content.decode()
    assert response.status_code == 410
    assert "This download link expired on" in html
    assert ">31 March 2026, 12:00 UTC</time>." in html
    assert "mailto:help@northern.example" in html
    assert "Traceback" not in html
    assert _bytes_used(grant) == 0
    assert DownloadEvent.objects.filter(grant=grant).count() == 0


@pytest.mark.django_db
def test_a_link_works_until_the_moment_it_expires(client: Client) -> None:
    with time_machine.travel(NOW, tick=False):
        grant = _grant(expiry_days=30)
    with time_machine.travel(NOW + dt.timedelta(days=30, seconds=-1), tick=False):
        assert _fetch(client, grant)[1] == CONTENT


@pytest.mark.django_db
@pytest.mark.parametrize("suffix", ["", "/file"])
def test_a_restricted_link_gets_403_saying_the_store_turned_it_off(
    client: Client, suffix: str
) -> None:
    grant = _grant()
    grants_restrict(order=grant.order, actor="staff@northern.example")

    response = client.get(f"{_page_url(grant)}{suffix}")

    html = response.content.decode()
    assert response.status_code == 403
    assert "The store has turned off access to this download." in html
    assert "mailto:help@northern.example" in html
    assert _bytes_used(grant) == 0
    assert DownloadEvent.objects.filter(grant=grant).count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("suffix", ["", "/file"])
def test_a_refunded_link_gets_403_saying_it_was_refunded(client: Client, suffix: str) -> None:
    grant = _grant()
    grants_restrict(order=grant.order, actor="Shopify", reason=Restriction.REFUNDED)

    response = client.get(f"{_page_url(grant)}{suffix}")

    html = response.content.decode()
    assert response.status_code == 403
    assert "This order was refunded, so its downloads are no longer available." in html
    assert _bytes_used(grant) == 0


@pytest.mark.django_db
def test_a_cancelled_link_gets_403_saying_it_was_cancelled(client: Client) -> None:
    grant = _grant()
    grants_restrict(order=grant.order, actor="Shopify", reason=Restriction.CANCELLED)
    response = client.get(_page_url(grant))
    assert response.status_code == 403
    assert (
        "This order was cancelled, so its downloads are no longer available."
        in response.content.decode()
    )


@pytest.mark.django_db
def test_a_store_without_an_email_points_to_the_email_it_sent(client: Client) -> None:
    grant = _grant(max_downloads=1)
    Shop.objects.filter(pk=grant.shop_id).update(email="")
    _fetch(client, grant)
    html = client.get(_page_url(grant)).content.decode()
    assert "mailto:" not in html
    assert "reply to the email from Northern Prints that" in html


# --- parallel requests ------------------------------------------------------------------------


def test_two_parallel_downloads_with_a_limit_of_one_serve_exactly_one(
    transactional_db: None,
) -> None:
    grant = _grant(max_downloads=1)
    url = _file_url(grant)

    def download(_: int) -> tuple[int, bytes]:
        response = Client().get(url)
        return response.status_code, _body(response)

    results = at_once(download, 2)

    assert sorted(status for status, _ in results) == [200, 410]
    assert [body for status, body in results if status == 200] == [CONTENT]
    assert _bytes_used(grant) == 2048
    assert DownloadEvent.objects.filter(grant=grant).count() == 1
