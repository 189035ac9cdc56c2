from __future__ import annotations

import datetime as dt
import io
import os

import pytest
from django.utils.http import http_date

from imprint.lib.ranged import (
    ByteRange,
    FileWindow,
    RangedFileResponse,
    RangeVerdict,
    if_range_holds,
    range_not_satisfiable,
    range_parse,
    range_select,
)

WHOLE = RangeVerdict.WHOLE
UNSATISFIABLE = RangeVerdict.UNSATISFIABLE
MODIFIED = dt.datetime(2026, 3, 1, 12, 30, 15, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-9", ByteRange(0, 9)),
        ("bytes=10-", ByteRange(10, 99)),
        ("bytes=-5", ByteRange(95, 99)),
        ("bytes=0-0", ByteRange(0, 0)),
        ("bytes=99-99", ByteRange(99, 99)),
        ("bytes=90-500", ByteRange(90, 99)),  # the end is clamped to the file
        ("bytes=-100", ByteRange(0, 99)),
        ("bytes=-1000", ByteRange(0, 99)),  # a suffix larger than the file is the whole file
        ("BYTES=1-2", ByteRange(1, 2)),  # range units are case-insensitive
        ("bytes= 3-4 ", ByteRange(3, 4)),
        ("bytes=3-4, ,", ByteRange(3, 4)),  # empty list elements are not ranges
        ("bytes=0-" + "9" * 5000, ByteRange(0, 99)),
    ],
)
def test_single_ranges_are_resolved_against_the_size(header: str, expected: ByteRange) -> None:
    assert range_parse(header, size=100) == expected


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "bytes=5-2",  # first > last: an invalid range is ignored
        "bytes=abc",
        "bytes=a-b",
        "bytes=-",
        "bytes=",
        "bytes",
        "items=0-1",
        "bytes=0-1,5-6",  # several ranges: the whole file instead of a multipart body
        "bytes=0-1,0-1",
        "bytes=0-1,abc",
        "bytes=+1-2",
        "bytes=1_0-20",
        "bytes=\u0661-\u0662",  # non-ASCII digits are not digits here
        "bytes=0x1-2",
    ],
)
def test_unusable_range_headers_mean_the_whole_file(header: str | None) -> None:
    assert range_parse(header, size=100) is WHOLE


@pytest.mark.parametrize(
    "header",
    ["bytes=100-", "bytes=100-200", "bytes=150-160", "bytes=-0", "bytes=" + "9" * 5000 + "-"],
)
def test_ranges_past_the_end_or_empty_are_unsatisfiable(header: str) -> None:
    assert range_parse(header, size=100) is UNSATISFIABLE


def test_an_empty_file_satisfies_no_first_position_and_sends_itself_for_a_suffix() -> None:
    assert range_parse("bytes=0-", size=0) is UNSATISFIABLE
    assert range_parse("bytes=0-0", size=0) is UNSATISFIABLE
    assert range_parse("bytes=-0", size=0) is UNSATISFIABLE
    assert range_parse("bytes=-5", size=0) is WHOLE


def test_byte_range_length_counts_both_ends() -> None:
    assert ByteRange(0, 0).length == 1
    assert ByteRange(10, 19).length == 10


def test_if_range_with_the_current_etag_allows_the_range() -> None:
    assert if_range_holds('"abc"', etag="abc", last_modified=MODIFIED) is True
    assert if_range_holds(None, etag="abc", last_modified=MODIFIED) is True


@pytest.mark.parametrize("value", ['"abd"', 'W/"abc"', "abc", "", '"abc', "garbage"])
def test_if_range_with_another_or_weak_etag_does_not_hold(value: str) -> None:
    assert if_range_holds(value, etag="abc", last_modified=MODIFIED) is False


def test_if_range_date_must_equal_last_modified_to_the_second() -> None:
    exact = http_date(MODIFIED.timestamp())
    later = http_date(MODIFIED.timestamp() + 1)
    assert if_range_holds(exact, etag="abc", last_modified=MODIFIED) is True
    assert if_range_holds(later, etag="abc", last_modified=MODIFIED) is False
    assert if_range_holds(exact, etag="abc", last_modified=None) is False


def test_range_select_ignores_range_when_if_range_fails_even_if_unsatisfiable() -> None:
    assert (
        range_select(
            range_header="bytes=500-", if_range='"old"', size=100, etag="new", last_modified=None
        )
        is WHOLE
    )
    assert (
        range_select(
            range_header="bytes=500-", if_range='"new"', size=100, etag="new", last_modified=None
        )
        is UNSATISFIABLE
    )
    assert range_select(
        range_header="bytes=1-2", if_range='"new"', size=100, etag="new", last_modified=None
    ) == ByteRange(1, 2)
    assert (
        range_select(range_header=None, if_range='"new"', size=100, etag="new", last_modified=None)
        is WHOLE
    )


def test_not_satisfiable_response_names_the_size() -> None:
    response = range_not_satisfiable(size=1234)
    assert response.status_code == 416
    assert response["Content-Range"] == "bytes */1234"
    assert response.content == b""


def _body(response: RangedFileResponse) -> bytes:
    return b"".join(response.streaming_content)  # type: ignore[arg-type]


def test_ranged_response_sends_only_the_range_in_bounded_chunks() -> None:
    data = bytes(range(256)) * 1024  # 256 KiB
    source = io.BytesIO(data)
    response = RangedFileResponse(
        source,
        size=len(data),
        byte_range=ByteRange(1000, 200_999),
        etag="v1",
        last_modified=MODIFIED,
        filename="notes.txt",
        content_type="text/plain",
    )
    chunks = list(response.streaming_content)
    assert b"".join(chunks) == data[1000:201_000]
    assert max(len(chunk) for chunk in chunks) == 64 * 1024
    assert response.status_code == 206
    assert response["Content-Length"] == "200000"
    assert response["Content-Range"] == f"bytes 1000-200999/{len(data)}"
    assert response["Accept-Ranges"] == "bytes"
    assert response["ETag"] == '"v1"'
    assert response["Last-Modified"] == "Sun, 01 Mar 2026 12:30:15 GMT"
    assert response["Content-Type"] == "text/plain"
    assert response["Content-Disposition"] == 'attachment; filename="notes.txt"'


def test_ranged_response_without_range_sends_the_whole_file_with_200() -> None:
    data = b"0123456789" * 10
    response = RangedFileResponse(
        io.BytesIO(data),
        size=len(data),
        byte_range=None,
        etag="v1",
        last_modified=None,
        filename="Übung ü.pdf",
        content_type="application/pdf",
    )
    assert _body(response) == data
    assert response.status_code == 200
    assert response["Content-Length"] == "100"
    assert "Content-Range" not in response
    assert "Last-Modified" not in response
    assert response["Content-Disposition"] == "attachment; filename*=utf-8''%C3%9Cbung%20%C3%BC.pdf"


def test_file_to_stream_is_positioned_at_the_range_start_for_sendfile(tmp_path) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(b"a" * 10 + b"b" * 10 + b"c" * 10)
    with path.open("rb") as handle:
        response = RangedFileResponse(
            handle,
            size=30,
            byte_range=ByteRange(10, 19),
            etag="v1",
            last_modified=None,
            filename="data.bin",
            content_type="application/octet-stream",
        )
        window = response.file_to_stream
        assert isinstance(window, FileWindow)
        # What gunicorn does: sendfile from the descriptor's current position, Content-Length bytes.
        assert os.lseek(window.fileno(), 0, os.SEEK_CUR) == 10
        assert response["Content-Length"] == "10"
        # What a server without sendfile does: read blocks until empty.
        assert window.read(4) == b"bbbb"
        assert window.read(100) == b"bbbbbb"
        assert window.read(100) == b""
