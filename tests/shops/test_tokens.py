"""Access tokens at rest: encrypted, rotatable, and never shown."""

from __future__ import annotations

import datetime as dt
import io
import logging

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import call_command

from imprint.shops.crypto import TokenUndecryptable, key_derive, token_decrypt
from imprint.shops.models import Shop
from imprint.shops.services import (
    ShopInvalid,
    shop_add,
    shop_refresh_token_get,
    shop_token_get,
    shop_token_set,
    tokens_reencrypt,
)

pytestmark = pytest.mark.django_db

TOKEN = "shpat_0123456789abcdef0123456789abcdef"
OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


def test_a_token_is_stored_encrypted_and_reads_back(shop_a) -> None:
    shop_token_set(shop=shop_a, access_token=TOKEN)

    stored = Shop.objects.values_list("access_token_encrypted", flat=True).get(pk=shop_a.pk)
    assert TOKEN not in stored
    assert stored.startswith("gAAAA")  # a Fernet token
    assert shop_token_get(shop=Shop.objects.get(pk=shop_a.pk)) == TOKEN


def test_encrypting_the_same_token_twice_gives_different_ciphertexts(shop_a, shop_b) -> None:
    shop_token_set(shop=shop_a, access_token=TOKEN)
    shop_token_set(shop=shop_b, access_token=TOKEN)

    shop_a.refresh_from_db()
    shop_b.refresh_from_db()
    assert shop_a.access_token_encrypted != shop_b.access_token_encrypted


def test_token_set_records_expiry_refresh_token_and_scopes(shop_a) -> None:
    expires = dt.datetime(2027, 1, 1, 13, 0, tzinfo=dt.UTC)
    refresh_expires = dt.datetime(2027, 4, 1, tzinfo=dt.UTC)

    shop_token_set(
        shop=shop_a,
        access_token="shpat_expiring",
        expires_at=expires,
        refresh_token="shprt_refresh",
        refresh_expires_at=refresh_expires,
        scopes="read_products, read_orders,read_orders",
    )

    shop = Shop.objects.get(pk=shop_a.pk)
    assert (
        shop_token_get(shop=shop),
        shop.access_token_expires_at,
        shop_refresh_token_get(shop=shop),
        shop.refresh_token_expires_at,
        shop.scopes,
    ) == ("shpat_expiring", expires, "shprt_refresh", refresh_expires, "read_orders,read_products")
    assert "shprt_refresh" not in shop.refresh_token_encrypted


def test_a_new_token_without_refresh_token_clears_the_old_refresh_token(shop_a) -> None:
    shop_token_set(shop=shop_a, access_token="shpat_1", refresh_token="shprt_1")
    shop_token_set(shop=shop_a, access_token="shpat_2")

    shop = Shop.objects.get(pk=shop_a.pk)
    assert (shop_token_get(shop=shop), shop_refresh_token_get(shop=shop)) == ("shpat_2", "")
    assert (shop.refresh_token_encrypted, shop.refresh_token_expires_at) == ("", None)


def test_an_empty_token_is_refused_and_changes_nothing(shop_a) -> None:
    before = Shop.objects.values_list("access_token_encrypted", flat=True).get(pk=shop_a.pk)

    with pytest.raises(ShopInvalid):
        shop_token_set(shop=shop_a, access_token="")

    assert Shop.objects.values_list("access_token_encrypted", flat=True).get(pk=shop_a.pk) == before


def test_without_configured_keys_the_key_is_derived_from_the_secret_key(settings, shop_a) -> None:
    settings.ENCRYPTION_KEYS = []
    shop_token_set(shop=shop_a, access_token=TOKEN)
    shop_a.refresh_from_db()

    derived = Fernet(key_derive(settings.SECRET_KEY))
    assert derived.decrypt(shop_a.access_token_encrypted.encode()).decode() == TOKEN
    assert key_derive(settings.SECRET_KEY) != key_derive(settings.SECRET_KEY + "x")


def test_rotation_old_records_read_and_after_reencryption_only_the_new_key_is_needed(
    settings, shop_a, shop_b
) -> None:
    settings.ENCRYPTION_KEYS = [OLD_KEY]
    shop_token_set(shop=shop_a, access_token="shpat_a", refresh_token="shprt_a")
    shop_token_set(shop=shop_b, access_token="shpat_b")

    settings.ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    # Under both keys, records written under the old one still read.
    assert shop_token_get(shop=Shop.objects.get(pk=shop_a.pk)) == "shpat_a"
    out = io.StringIO()
    call_command("reencrypt_tokens", stdout=out)
    assert out.getvalue() == "Re-encrypted the tokens of 2 store(s) under the newest key.\n"

    settings.ENCRYPTION_KEYS = [NEW_KEY]
    a, b = Shop.objects.get(pk=shop_a.pk), Shop.objects.get(pk=shop_b.pk)
    assert (shop_token_get(shop=a), shop_refresh_token_get(shop=a), shop_token_get(shop=b)) == (
        "shpat_a",
        "shprt_a",
        "shpat_b",
    )
    old_only = Fernet(OLD_KEY)
    assert Fernet(NEW_KEY).decrypt(a.access_token_encrypted.encode()) == b"shpat_a"
    with pytest.raises(InvalidToken):
        old_only.decrypt(a.access_token_encrypted.encode())


def test_a_record_under_a_dropped_key_fails_loudly_without_the_token(settings, shop_a) -> None:
    settings.ENCRYPTION_KEYS = [OLD_KEY]
    shop_token_set(shop=shop_a, access_token=TOKEN)
    settings.ENCRYPTION_KEYS = [NEW_KEY]

    with pytest.raises(TokenUndecryptable) as raised:
        shop_token_get(shop=Shop.objects.get(pk=shop_a.pk))
    assert TOKEN not in str(raised.value)
    with pytest.raises(TokenUndecryptable):
        tokens_reencrypt()


def test_a_malformed_key_is_a_configuration_error_that_does_not_echo_it(settings) -> None:
    from django.core.exceptions import ImproperlyConfigured

    settings.ENCRYPTION_KEYS = ["not-a-fernet-key-but-secret"]

    with pytest.raises(ImproperlyConfigured) as raised:
        token_decrypt("gAAAAAsomething")
    assert "not-a-fernet-key-but-secret" not in str(raised.value)


def test_the_new_key_option_prints_a_fernet_key_and_changes_nothing(shop_a) -> None:
    before = Shop.objects.values_list("access_token_encrypted", flat=True).get(pk=shop_a.pk)
    out = io.StringIO()

    call_command("reencrypt_tokens", "--new-key", stdout=out)

    Fernet(out.getvalue().strip())  # a valid key
    assert Shop.objects.values_list("access_token_encrypted", flat=True).get(pk=shop_a.pk) == before


def test_the_token_never_appears_in_str_repr_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    shop = shop_add(domain="shop-a.myshopify.com", token=TOKEN, name="Shop A")
    shop_token_set(shop=shop, access_token=TOKEN, refresh_token="shprt_secret_refresh")
    shop = Shop.objects.get(pk=shop.pk)

    shown = f"{shop} {shop!r} {vars(shop)}"
    assert TOKEN not in shown
    assert "shprt_secret_refresh" not in shown
    assert TOKEN not in caplog.text
    assert "shprt_secret_refresh" not in caplog.text
