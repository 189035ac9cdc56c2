from __future__ import annotations

import hashlib
import io
import os

import pytest
from django.core.files.storage import default_storage

from imprint.catalog.models import Attachment, DigitalFile
from imprint.catalog.services import (
    ProductIdInvalid,
    file_attach,
    file_store,
    product_id_parse,
)
from imprint.catalog.storage import storage_delete, storage_exists, storage_open
from tests.factories import DigitalFileFactory

pytestmark = pytest.mark.django_db

CHUNK_LIMIT = 1024 * 1024


class ChunkedSource(io.RawIOBase):
    """A large file made up on the fly that refuses to be read whole."""

    def __init__(self, size: int, seed: bytes = b"imprint") -> None:
        self.remaining = size
        self.block = hashlib.sha256(seed).digest() * 2048  # 64 KiB of varied bytes
        self.largest_read = 0

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        assert 0 < n <= CHUNK_LIMIT, f"read({n}): the whole file was asked for"
        self.largest_read = max(self.largest_read, n)
        data = (self.block * (n // len(self.block) + 1))[: min(n, self.remaining)]
        self.remaining -= len(data)
        return data


def _stored_bytes(file: DigitalFile) -> bytes:
    with storage_open(file.storage_name) as handle:
        return handle.read()


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("123", "Product", 123),
        (" 7001 ", "Product", 7001),
        ("gid://shopify/Product/632910392", "Product", 632910392),
        ("gid://shopify/ProductVariant/808950810", "ProductVariant", 808950810),
        ("9223372036854775807", "Product", 2**63 - 1),
    ],
)
def test_product_ids_parse_from_numbers_and_gids(text, kind, expected) -> None:
    assert product_id_parse(text, kind) == expected


@pytest.mark.parametrize(
    ("text", "kind", "message"),
    [
        ("gid://shopify/ProductVariant/1", "Product", "is a ProductVariant id, not a Product id"),
        ("gid://shopify/Product/1", "ProductVariant", "is a Product id, not a ProductVariant id"),
        ("gid://shopify/Order/1", "Product", "is a Order id, not a Product id"),
        ("abc", "Product", "is not a Product id"),
        ("", "Product", "is not a Product id"),
        ("-5", "Product", "is not a Product id"),
        ("1.5", "Product", "is not a Product id"),
        ("١٢٣", "Product", "is not a Product id"),
        ("0", "Product", "out of range"),
        ("9223372036854775808", "Product", "out of range"),
    ],
)
def test_bad_product_ids_are_refused(text, kind, message) -> None:
    with pytest.raises(ProductIdInvalid, match=message):
        product_id_parse(text, kind)


def test_file_store_keeps_exactly_the_bytes(shop_a) -> None:
    content = os.urandom(300_000)

    file = file_store(shop=shop_a, source=io.BytesIO(content), name="guide.pdf", content_type=None)

    assert _stored_bytes(file) == content
    assert (file.name, file.size, file.content_type) == ("guide.pdf", 300_000, "application/pdf")
    assert file.sha256 == hashlib.sha256(content).hexdigest()
    assert DigitalFile.objects.get() == file


def test_file_store_streams_a_large_file_in_chunks(shop_a) -> None:
    size = 20 * 1024 * 1024 + 17
    source = ChunkedSource(size)
    reference = ChunkedSource(size)
    expected = hashlib.sha256()
    while chunk := reference.read(65536):
        expected.update(chunk)

    file = file_store(shop=shop_a, source=source, name="course.zip", content_type="application/zip")

    assert source.largest_read <= CHUNK_LIMIT
    assert (file.size, file.sha256) == (size, expected.hexdigest())
    with storage_open(file.storage_name) as handle:
        stored = hashlib.sha256()
        while chunk := handle.read(65536):
            stored.update(chunk)
    assert stored.hexdigest() == expected.hexdigest()


def test_storage_names_are_unguessable_and_safe(shop_a) -> None:
    first = file_store(
        shop=shop_a,
        source=io.BytesIO(b"a"),
        name="../../etc/pass wd?.pdf",
        content_type="application/pdf",
    )
    second = file_store(
        shop=shop_a,
        source=io.BytesIO(b"b"),
        name="../../etc/pass wd?.pdf",
        content_type="application/pdf",
    )

    assert first.name == "pass wd?.pdf"  # shown to customers as it was
    prefix, shop_id, stored_name = first.storage_name.split("/")
    # 128 random bits (22 characters of URL-safe base64), then the name made safe.
    assert (prefix, shop_id, stored_name[22:]) == ("shops", str(shop_a.pk), "-pass_wd_.pdf")
    assert first.storage_name != second.storage_name
    assert _stored_bytes(first) == b"a"
    assert _stored_bytes(second) == b"b"


def test_an_empty_file_is_stored(shop_a) -> None:
    file = file_store(shop=shop_a, source=io.BytesIO(b""), name="empty.txt", content_type=None)

    assert (file.size, file.sha256, file.content_type) == (
        0,
        hashlib.sha256(b"").hexdigest(),
        "text/plain",
    )
    assert _stored_bytes(file) == b""


def test_unknown_types_are_stored_as_octet_stream(shop_a) -> None:
    file = file_store(
        shop=shop_a, source=io.BytesIO(b"x"), name="data.imprintunknown", content_type=None
    )

    assert file.content_type == "application/octet-stream"


def test_file_store_removes_the_bytes_when_the_row_cannot_be_written(shop_a, monkeypatch) -> None:
    def refuse(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(DigitalFile.objects, "create", refuse)

    with pytest.raises(RuntimeError, match="database went away"):
        file_store(shop=shop_a, source=io.BytesIO(b"orphan"), name="guide.pdf", content_type=None)

    monkeypatch.undo()
    assert DigitalFile.objects.count() == 0
    assert default_storage.listdir(f"shops/{shop_a.pk}") == ([], [])


def test_storage_open_gives_a_real_file_for_sendfile(shop_a) -> None:
    file = file_store(
        shop=shop_a, source=io.BytesIO(b"zero copy"), name="guide.pdf", content_type=None
    )

    with storage_open(file.storage_name) as handle:
        assert os.read(handle.fileno(), 100) == b"zero copy"


def test_storage_delete_removes_the_file(shop_a) -> None:
    file = file_store(shop=shop_a, source=io.BytesIO(b"bye"), name="guide.pdf", content_type=None)

    storage_delete(file.storage_name)

    assert storage_exists(file.storage_name) is False


def test_attach_to_a_product_and_to_a_variant(shop_a) -> None:
    file = DigitalFileFactory(shop=shop_a)

    product_wide = file_attach(file=file, product_id=7001)
    one_variant = file_attach(file=file, product_id=7001, variant_id=8001)

    assert (product_wide.shop, product_wide.product_id, product_wide.variant_id) == (
        shop_a,
        7001,
        None,
    )
    assert (one_variant.shop, one_variant.product_id, one_variant.variant_id) == (
        shop_a,
        7001,
        8001,
    )
    assert Attachment.objects.count() == 2


def test_attaching_the_same_file_to_the_same_target_again_changes_nothing(shop_a) -> None:
    file = DigitalFileFactory(shop=shop_a)
    product_wide = file_attach(file=file, product_id=7001)
    one_variant = file_attach(file=file, product_id=7001, variant_id=8001)

    assert file_attach(file=file, product_id=7001) == product_wide
    assert file_attach(file=file, product_id=7001, variant_id=8001) == one_variant
    assert Attachment.objects.count() == 2
