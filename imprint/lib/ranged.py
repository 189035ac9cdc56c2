"""Serve a file, or one byte range of it, in constant memory: Django has no HTTP Range support.

One range per request (RFC 9110 §14): `bytes=a-b`, `bytes=a-` and `bytes=-n`. A request for several
ranges gets the whole file with 200, which RFC 9110 allows and which spares us multipart bodies;
download managers fall back to single ranges. `If-Range` (an entity tag or a date) that does not
match also gets the whole file, so a resumed download never splices two versions of a file.

The response keeps the open file (behind a `FileWindow` that stops at the range's end) as
`file_to_stream`, so Django's WSGI handler hands it to `wsgi.file_wrapper` and gunicorn sends it
with `sendfile` (zero copy): gunicorn starts at the descriptor's current position
(`lseek(fd, 0, SEEK_CUR)`) and sends `Content-Length` bytes. So the file is seeked to the range's
start before anything reads it, and Content-Length is the range's length. Without a file_wrapper
(the test client, runserver) the body is read in bounded chunks that stop at the range's end.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from dataclasses import dataclass
from typing import IO, Any

from django.http import FileResponse, HttpResponse
from django.utils.http import http_date, parse_http_date_safe, quote_etag

# Read size when no sendfile is available: big enough to stream quickly, small enough that a
# thread serving a 5 GB file holds no more than this.
CHUNK_BYTES = 64 * 1024
# Positions with more digits than this are beyond any file (10**18 bytes is an exabyte): clamp
# them instead of parsing, so a header of 5,000 digits costs nothing and cannot raise.
_MAX_DIGITS = 18
_BEYOND_ANY_FILE = 10**_MAX_DIGITS

_RANGE_SPEC = re.compile(r"(\d*)-(\d*)", re.ASCII)


class RangeVerdict(enum.Enum):
    WHOLE = "whole"  # no usable single range: send the whole file with 200
    UNSATISFIABLE = "unsatisfiable"  # the range starts past the end: 416, nothing sent


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive, as in Content-Range

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def _position(digits: str) -> int:
    return _BEYOND_ANY_FILE if len(digits) > _MAX_DIGITS else int(digits)


def range_parse(header: str | None, *, size: int) -> ByteRange | RangeVerdict:
    """The part of a `size`-byte file that a Range header asks for.

    Anything that is not exactly one well-formed byte range is ignored (the whole file), as RFC
    9110 §14.2 allows: unknown units, garbage, `bytes=5-2`, several ranges.
    """
    if not header:
        return RangeVerdict.WHOLE
    unit, sep, ranges = header.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return RangeVerdict.WHOLE
    # The list syntax allows empty elements ("bytes=0-9, ,"): they do not count as ranges.
    specs = [spec.strip() for spec in ranges.split(",") if spec.strip()]
    if len(specs) != 1:
        return RangeVerdict.WHOLE
    match = _RANGE_SPEC.fullmatch(specs[0])
    if match is None:
        return RangeVerdict.WHOLE
    first, last = match.groups()
    if first:
        start = _position(first)
        end = _position(last) if last else size - 1
        if end < start and last:
            return RangeVerdict.WHOLE  # invalid (first > last): ignored, not refused
        if start >= size:
            return RangeVerdict.UNSATISFIABLE
        return ByteRange(start, min(end, size - 1))
    if not last:
        return RangeVerdict.WHOLE  # "bytes=-"
    suffix = _position(last)
    if suffix == 0:
        return RangeVerdict.UNSATISFIABLE  # the last zero bytes: nothing to send
    if size == 0:
        # Satisfiable by RFC 9110, but Content-Range cannot express an empty range: send the
        # (empty) whole file.
        return RangeVerdict.WHOLE
    return ByteRange(max(size - suffix, 0), size - 1)


def if_range_holds(if_range: str | None, *, etag: str, last_modified: dt.datetime | None) -> bool:
    """Whether a Range may be honoured: no If-Range, or one that matches the current file.

    Entity tags compare strongly, so a weak tag never matches (RFC 9110 §13.1.5); a date must
    equal Last-Modified to the second.
    """
    if if_range is None:
        return True
    value = if_range.strip()
    if value.startswith(("W/", '"')):
        return value == quote_etag(etag) and not value.startswith("W/")
    if last_modified is None:
        return False
    when = parse_http_date_safe(value)
    return when is not None and when == int(last_modified.timestamp())


def range_select(
    *,
    range_header: str | None,
    if_range: str | None,
    size: int,
    etag: str,
    last_modified: dt.datetime | None,
) -> ByteRange | RangeVerdict:
    """What a request will get, computed before anything is sent (so a caller can charge it)."""
    if not range_header:
        return RangeVerdict.WHOLE  # an If-Range without a Range means nothing (RFC 9110 §13.1.5)
    if not if_range_holds(if_range, etag=etag, last_modified=last_modified):
        return RangeVerdict.WHOLE
    return range_parse(range_header, size=size)


def range_not_satisfiable(*, size: int) -> HttpResponse:
    response = HttpResponse(status=416)
    response.headers["Content-Range"] = f"bytes */{size}"
    response.headers["Accept-Ranges"] = "bytes"
    return response


class FileWindow:
    """`length` bytes of an open file, from the position it is at.

    This is what `wsgi.file_wrapper` receives: gunicorn calls sendfile on `fileno()` from the
    descriptor's current position for Content-Length bytes; servers without sendfile call
    `read()`, which stops at the window's end instead of reading the rest of the file.
    """

    def __init__(self, file: IO[bytes], length: int) -> None:
        self._file = file
        self._left = length

    def fileno(self) -> int:
        # Files that are not on a local disk (S3) raise here, and servers fall back to read().
        return self._file.fileno()

    def read(self, size: int | None = -1) -> bytes:
        if self._left <= 0:
            return b""
        wanted = self._left if size is None or size < 0 else min(size, self._left)
        data = self._file.read(wanted)
        self._left -= len(data)
        return data

    def close(self) -> None:
        self._file.close()


class RangedFileResponse(FileResponse):
    """A file as an attachment: whole with 200, or one byte range with 206 and Content-Range.

    `file` must be open and not read from yet: a buffered file that has read ahead would seek
    within its buffer and leave the descriptor, which sendfile uses, somewhere else.
    """

    # The read size when the body goes through Python: the test client and runserver iterate
    # the response in blocks of this size, and Django passes it to wsgi.file_wrapper.
    block_size = CHUNK_BYTES

    def __init__(
        self,
        file: IO[bytes],
        *,
        size: int,
        byte_range: ByteRange | None,
        etag: str,
        last_modified: dt.datetime | None,
        filename: str,
        content_type: str,
        **kwargs: Any,
    ) -> None:
        start, length = (byte_range.start, byte_range.length) if byte_range else (0, size)
        file.seek(start)
        # FileResponse keeps the window as file_to_stream (for wsgi.file_wrapper), reads it in
        # block_size pieces otherwise, and closes it (so the file) when the response is closed.
        # The window has no seek or tell, so FileResponse leaves Content-Length to us.
        super().__init__(
            FileWindow(file, length),
            as_attachment=True,
            filename=filename,
            content_type=content_type,
            status=206 if byte_range else 200,
            **kwargs,
        )
        self.headers["Content-Length"] = str(length)
        self.headers["Accept-Ranges"] = "bytes"
        self.headers["ETag"] = quote_etag(etag)
        if last_modified is not None:
            self.headers["Last-Modified"] = http_date(last_modified.timestamp())
        if byte_range is not None:
            self.headers["Content-Range"] = f"bytes {byte_range.start}-{byte_range.end}/{size}"
