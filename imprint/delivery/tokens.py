"""Download link tokens: the grant id plus an HMAC of (grant id, generation) under the secret key.

Nothing secret is stored: a database dump alone does not yield working links, links can be sent
again without being stored, and bumping a grant's generation retires every link sent so far.
The key is SECRET_KEY (and, while rotating, SECRET_KEY_FALLBACKS), so rotation keeps old links alive.
"""

from __future__ import annotations

import base64
import hmac

from django.conf import settings
from django.utils.crypto import salted_hmac

_SALT = "imprint.delivery.grant-link"
_MAC_BYTES = 20  # 160 bits: far beyond guessing, even at millions of tries per second


def _mac(grant_id: int, generation: int, secret: str) -> str:
    digest = salted_hmac(
        _SALT, f"{grant_id}:{generation}", secret=secret, algorithm="sha256"
    ).digest()
    return base64.urlsafe_b64encode(digest[:_MAC_BYTES]).decode().rstrip("=")


def _encode_id(grant_id: int) -> str:
    return (
        base64.urlsafe_b64encode(grant_id.to_bytes(8, "big").lstrip(b"\0") or b"\0")
        .decode()
        .rstrip("=")
    )


def _decode_id(text: str) -> int | None:
    if not 1 <= len(text) <= 11:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError):
        return None
    if not raw or len(raw) > 8:
        return None
    return int.from_bytes(raw, "big")


def grant_token(*, grant_id: int, generation: int) -> str:
    return f"{_encode_id(grant_id)}.{_mac(grant_id, generation, settings.SECRET_KEY)}"


def grant_token_parse(token: str) -> int | None:
    """The grant id a token claims, or None when it is malformed. Check it with grant_token_valid."""
    head, sep, mac = token.partition(".")
    if not sep or not mac or len(token) > 64:
        return None
    return _decode_id(head)


def grant_token_valid(token: str, *, grant_id: int, generation: int) -> bool:
    _, _, mac = token.partition(".")
    for secret in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]:
        if hmac.compare_digest(mac, _mac(grant_id, generation, secret)):
            return True
    return False
