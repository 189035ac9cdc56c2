"""Encryption of the stores' access and refresh tokens at rest.

Keys come from `IMPRINT_ENCRYPTION_KEYS` (Fernet keys, comma-separated, newest first). A token is
always encrypted under the newest key and read under any of them (MultiFernet), so a key is
rotated by putting a new one first, running `imprint manage reencrypt_tokens`, then dropping the
old one. Unset, one key is derived from SECRET_KEY with HKDF: a database dump alone is then still
not enough to read the tokens, but whoever has the secret key has the tokens too, so production
sets its own keys, kept apart from the secret key.
"""

from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

HKDF_INFO = b"imprint.shops.access-token-encryption"


class TokenUndecryptable(Exception):
    """A stored token none of the configured keys opens: a key was dropped too early."""


def key_derive(secret_key: str) -> str:
    """The Fernet key used when IMPRINT_ENCRYPTION_KEYS is unset."""
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=HKDF_INFO).derive(
        secret_key.encode()
    )
    return base64.urlsafe_b64encode(derived).decode()


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    fernets = []
    for position, key in enumerate(keys, start=1):
        try:
            fernets.append(Fernet(key))
        except (ValueError, TypeError):
            # Never echo the value: it is a secret.
            raise ImproperlyConfigured(
                f"IMPRINT_ENCRYPTION_KEYS: key {position} is not a Fernet key "
                "(32 url-safe base64-encoded bytes; make one with `imprint manage "
                "reencrypt_tokens --new-key`)"
            ) from None
    return MultiFernet(fernets)


def configured_keys() -> tuple[str, ...]:
    keys = tuple(settings.ENCRYPTION_KEYS)
    return keys or (key_derive(settings.SECRET_KEY),)


def token_encrypt(plaintext: str) -> str:
    """`plaintext` encrypted under the newest key; an empty token stays empty (no token)."""
    if not plaintext:
        return ""
    return _fernet(configured_keys()).encrypt(plaintext.encode()).decode()


def token_decrypt(ciphertext: str) -> str:
    if not ciphertext:
        return ""
    try:
        return _fernet(configured_keys()).decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        raise TokenUndecryptable(
            "a stored token cannot be decrypted with any key in IMPRINT_ENCRYPTION_KEYS"
        ) from None


def token_reencrypt(ciphertext: str) -> str:
    """The same token under the newest key (readable under any configured key)."""
    if not ciphertext:
        return ""
    try:
        return _fernet(configured_keys()).rotate(ciphertext.encode()).decode()
    except InvalidToken:
        raise TokenUndecryptable(
            "a stored token cannot be decrypted with any key in IMPRINT_ENCRYPTION_KEYS"
        ) from None


def key_generate() -> str:
    return Fernet.generate_key().decode()
