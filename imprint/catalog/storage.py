"""Where files live. The only module that knows: everything else holds a stored name.

Names are unguessable (shop id, then 128 random bits before the sanitized original name), so a
storage listing or a leaked bucket path does not lead from one file to another.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from typing import IO, Protocol, cast

from django.core.files import File
from django.core.files.storage import default_storage

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_NAME_CHARS = 100


class Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


def storage_name_new(*, shop_id: int, original_name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", original_name).encode("ascii", "ignore").decode()
    safe = _UNSAFE.sub("_", ascii_name).strip("._")[-MAX_NAME_CHARS:].lstrip("._") or "file"
    # One directory per shop, no directory per file: deleting a file leaves nothing behind.
    return f"shops/{shop_id}/{secrets.token_urlsafe(16)}-{safe}"


def storage_save(name: str, source: Readable) -> str:
    """Copy `source` into storage in chunks; returns the name it was stored under (the storage
    may alter `name` to keep it unique)."""
    # Only read() is used: the storage copies chunk by chunk, never seeking or asking the size.
    return default_storage.save(name, File(cast(IO[bytes], source), name=name))


def storage_open(stored_name: str) -> File:
    """The stored file, opened for binary reading. Local storage gives a real file (with a
    fileno), which lets gunicorn hand it to sendfile."""
    return default_storage.open(stored_name, "rb")


def storage_delete(stored_name: str) -> None:
    default_storage.delete(stored_name)


def storage_exists(stored_name: str) -> bool:
    return default_storage.exists(stored_name)
