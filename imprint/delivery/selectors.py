"""Reads for the customer's side: a link's grant, and its file's bytes."""

from __future__ import annotations

from typing import IO

from django.core.files.storage import default_storage

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

    A thin call to Django's storage: where files live is the catalog's business, not delivery's.
    """
    return default_storage.open(grant.file.storage_name, "rb")
