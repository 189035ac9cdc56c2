"""Reads for the customer's side: a link's grant, and its file's bytes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import IO, cast
from urllib.parse import quote

from django.conf import settings

from imprint.catalog.storage import (
    storage_is_local,
    storage_object_validators,
    storage_open,
    storage_presigned_url,
)
from imprint.delivery.models import DownloadGrant
from imprint.delivery.tokens import grant_token_parse, grant_token_valid

# Primary keys are signed 64-bit integers on SQLite and PostgreSQL; a token may claim any
# unsigned 64-bit id, and a larger one would make the database driver raise instead of miss.
_MAX_ID = 2**63 - 1


def grant_for_token(*, token: str) -> DownloadGrant | None:
    """The grant a download link opens, or None for a malformed, forged, retired or unknown link."""
    grant_id = grant_token_parse(token)
    if grant_id is None or not 1 <= grant_id <= _MAX_ID:
        return None
    grant = (
        DownloadGrant.objects.select_related("file", "order", "shop").filter(pk=grant_id).first()
    )
    if grant is None or not grant_token_valid(
        token, grant_id=grant.pk, generation=grant.generation
    ):
        return None
    return grant


def grant_file_open(*, grant: DownloadGrant) -> IO[bytes]:
    """The grant's file, open for reading and not read from yet (so sendfile can start at a seek).
    Raises OSError when it is missing from storage or storage cannot be reached.

    A thin call to the catalog's storage: where files live is the catalog's business, not delivery's.
    """
    return cast(IO[bytes], storage_open(grant.file.storage_name))


@dataclass(frozen=True)
class FileValidators:
    """The ETag and Last-Modified the server that sends the bytes answers with, so an If-Range
    is judged by Imprint exactly as that server will judge it."""

    etag: str
    last_modified: dt.datetime | None


def grant_file_validators(*, grant: DownloadGrant, file: IO[bytes]) -> FileValidators:
    """Imprint's own validators (the content's digest, the upload time) when Imprint or nginx
    sends the file; object storage's when it sends it from a presigned URL."""
    if not storage_is_local():
        stored = storage_object_validators(file)
        if stored.etag:
            return FileValidators(etag=stored.etag, last_modified=stored.last_modified)
    # The content's digest: a strong validator that changes whenever the bytes do, so If-Range
    # never resumes one version of a file with another.
    etag = grant.file.sha256 or f"{grant.file_id}-{grant.file_size}"
    return FileValidators(etag=etag, last_modified=grant.file.created_at)


def grant_file_presigned_url(*, grant: DownloadGrant) -> str | None:
    """A short-lived URL that fetches the file from object storage with the grant's filename and
    content type; None when files are on a local disk."""
    if storage_is_local():
        return None
    return storage_presigned_url(
        grant.file.storage_name,
        filename=grant.filename,
        content_type=grant.file.content_type or "application/octet-stream",
        expires_seconds=settings.DOWNLOAD_URL_SECONDS,
    )


def grant_file_accel_path(*, grant: DownloadGrant) -> str | None:
    """The internal nginx URI of the file (IMPRINT_ACCEL_REDIRECT_PREFIX + its stored name), or
    None when files are not handed to nginx."""
    prefix = settings.ACCEL_REDIRECT_PREFIX
    if not prefix or not storage_is_local():
        return None
    return prefix + quote(grant.file.storage_name, safe="/")
