"""Where files live. The only module that knows: everything else holds a stored name.

Names are unguessable (shop id, then 128 random bits before the sanitized original name), so a
storage listing or a leaked bucket path does not lead from one file to another.

Two kinds of storage, chosen by IMPRINT_STORAGE_URL (see `storage_backend_config`): a local
directory (the default; files are real files, which gunicorn or nginx send with sendfile), or an
S3-compatible bucket (`s3://BUCKET/PREFIX?endpoint_url=...&region=...`), where uploads go up in
parts and downloads are handed to the bucket through short-lived presigned URLs.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol, cast
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.files import File
from django.core.files.storage import FileSystemStorage, default_storage
from django.utils.http import content_disposition_header

from imprint.lib.env import ConfigError
from imprint.lib.urls import storage_location

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_NAME_CHARS = 100
S3_BACKEND = "imprint.catalog.s3.ImprintS3Storage"
_S3_QUERY_KEYS = {"endpoint_url", "region", "addressing_style"}
_REST_PIECE_BYTES = 1024 * 1024


class Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


def storage_backend_config(url: str, *, data_dir: Path, presign_seconds: int) -> dict[str, Any]:
    """Django's STORAGES["default"] for IMPRINT_STORAGE_URL: empty or file:///PATH is a local
    directory, s3://BUCKET[/PREFIX][?endpoint_url=URL&region=NAME&addressing_style=path] a bucket.

    Credentials are never in the URL (it is logged and shown in errors): boto3 finds them itself,
    in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile, or the machine's role.
    """
    parts = urlsplit(url)
    if parts.scheme != "s3":
        location = storage_location(url, data_dir=data_dir)
        return {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(location), "file_permissions_mode": 0o640},
        }
    if not parts.hostname:
        raise ConfigError("IMPRINT_STORAGE_URL s3://BUCKET/... has no bucket name")
    if parts.username or parts.password:
        raise ConfigError(
            "IMPRINT_STORAGE_URL must not hold credentials: set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY instead"
        )
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    unknown = sorted(set(query) - _S3_QUERY_KEYS)
    if unknown:
        raise ConfigError(
            f"IMPRINT_STORAGE_URL: unknown option(s) {', '.join(unknown)} "
            f"(known: {', '.join(sorted(_S3_QUERY_KEYS))})"
        )
    if query.get("addressing_style", "auto") not in {"auto", "path", "virtual"}:
        raise ConfigError("IMPRINT_STORAGE_URL: addressing_style must be auto, path or virtual")
    return {
        "BACKEND": S3_BACKEND,
        "OPTIONS": {
            # The bucket name keeps its case: urlsplit lowercases `hostname`, not `netloc`.
            "bucket_name": parts.netloc,
            "location": unquote(parts.path).strip("/"),
            "endpoint_url": query.get("endpoint_url") or None,
            "region_name": query.get("region") or None,
            "addressing_style": query.get("addressing_style") or None,
            "signature_version": "s3v4",
            "default_acl": None,  # the bucket stays private: every read goes through Imprint
            "querystring_auth": True,
            "querystring_expire": presign_seconds,
            "file_overwrite": False,
        },
    }


def storage_local_dir(config: dict[str, Any]) -> Path | None:
    """The directory of a local storage config, None for object storage."""
    location = config.get("OPTIONS", {}).get("location")
    return Path(location) if config["BACKEND"] != S3_BACKEND and location else None


def storage_name_new(*, shop_id: int, original_name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", original_name).encode("ascii", "ignore").decode()
    safe = _UNSAFE.sub("_", ascii_name).strip("._")[-MAX_NAME_CHARS:].lstrip("._") or "file"
    # One directory per shop, no directory per file: deleting a file leaves nothing behind.
    return f"shops/{shop_id}/{secrets.token_urlsafe(16)}-{safe}"


class _Stream(io.RawIOBase):
    """`source` as a forward-only stream. Saying it cannot seek matters: S3 then uploads it in
    parts as it reads (bounded memory), and local storage copies it chunk by chunk."""

    def __init__(self, source: Readable) -> None:
        self._source = source

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def read(self, n: int | None = -1, /) -> bytes:
        if n is not None and n >= 0:
            return self._source.read(n)
        # "The rest": S3 asks for it once it knows the rest is smaller than a part. Read it in
        # bounded pieces all the same, so a source never has to produce a whole file at once.
        pieces = []
        while piece := self._source.read(_REST_PIECE_BYTES):
            pieces.append(piece)
        return b"".join(pieces)

    def readinto(self, buffer: Any, /) -> int:
        data = self._source.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def storage_save(name: str, source: Readable) -> str:
    """Copy `source` into storage in chunks; returns the name it was stored under (the storage
    may alter `name` to keep it unique)."""
    # Only read() is used: the storage copies chunk by chunk, never seeking or asking the size.
    return default_storage.save(name, File(cast(IO[bytes], _Stream(source)), name=name))


def storage_open(stored_name: str) -> File:
    """The stored file, opened for binary reading. Local storage gives a real file (with a
    fileno), which lets gunicorn hand it to sendfile; object storage checks that the object
    exists (one HEAD request) and reads it only when asked. Raises OSError when it is missing
    or storage cannot be reached."""
    return default_storage.open(stored_name, "rb")


def storage_delete(stored_name: str) -> None:
    default_storage.delete(stored_name)


def storage_exists(stored_name: str) -> bool:
    return default_storage.exists(stored_name)


def storage_is_local() -> bool:
    """Files are on this machine's disk (so sendfile and X-Accel-Redirect can serve them)."""
    return isinstance(default_storage, FileSystemStorage)


def storage_local_path(stored_name: str) -> Path:
    """Where a stored file is on disk; only for local storage."""
    return Path(default_storage.path(stored_name))


@dataclass(frozen=True)
class Validators:
    """What the server that really sends the bytes will compare an If-Range with."""

    etag: str | None
    last_modified: dt.datetime | None


def storage_object_validators(file: object) -> Validators:
    """The entity tag and date object storage keeps for an opened object (no request: the HEAD
    of `storage_open` fetched them)."""
    obj = getattr(file, "obj", None)
    if obj is None:
        return Validators(etag=None, last_modified=None)
    etag = (obj.e_tag or "").strip('"') or None
    return Validators(etag=etag, last_modified=obj.last_modified)


def storage_presigned_url(
    stored_name: str, *, filename: str, content_type: str, expires_seconds: int
) -> str:
    """A URL that fetches the object straight from object storage until it expires, with the
    Content-Disposition and Content-Type the customer should get (S3 sets them on the response
    from the signed `response-content-*` parameters)."""
    return cast(
        str,
        cast(Any, default_storage).url(
            stored_name,
            parameters={
                "ResponseContentDisposition": content_disposition_header(
                    as_attachment=True, filename=filename
                ),
                "ResponseContentType": content_type,
            },
            expire=expires_seconds,
        ),
    )


def storage_reachable() -> bool:
    """Storage can be used right now: the directory exists and is writable, or the bucket
    answers."""
    storage = cast(Any, default_storage)
    if storage_is_local():
        location = storage.location
        try:
            # A fresh install has no directory until the first upload: that is not an outage.
            os.makedirs(location, exist_ok=True)
        except OSError:
            return False
        return os.access(location, os.W_OK | os.X_OK)
    return bool(storage.reachable())
