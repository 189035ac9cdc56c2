"""Files: store them (streamed, hashed on the way) and attach them to products and variants."""

from __future__ import annotations

import contextlib
import hashlib
import mimetypes
import re
from pathlib import PurePath
from typing import BinaryIO, Literal

from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from imprint.catalog.models import Attachment, DigitalFile
from imprint.catalog.storage import storage_delete, storage_name_new, storage_save
from imprint.shops.models import Shop

MAX_SHOPIFY_ID = 2**63 - 1  # our columns are signed 64-bit
_GID = re.compile(r"^gid://shopify/([A-Za-z]+)/(\d+)$")


class ProductIdInvalid(ValueError):
    """Text that is neither a numeric Shopify id nor a gid of the expected type."""


class AttachmentInvalid(ValueError):
    """An attachment the shop's file cannot take (another shop's file, a bad id)."""


class _HashingReader:
    """Counts and hashes the bytes as storage reads them, so a file is read exactly once."""

    def __init__(self, source: BinaryIO) -> None:
        self._source = source
        self.size = 0
        self.digest = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self._source.read(n)
        self.size += len(data)
        self.digest.update(data)
        return data


def product_id_parse(text: str, kind: Literal["Product", "ProductVariant"] = "Product") -> int:
    """A Shopify id from `123` or `gid://shopify/Product/123` (`ProductVariant` for variants)."""
    value = text.strip()
    match = _GID.match(value)
    if match:
        if match.group(1) != kind:
            raise ProductIdInvalid(f"{value!r} is a {match.group(1)} id, not a {kind} id")
        value = match.group(2)
    if not value.isascii() or not value.isdigit():
        raise ProductIdInvalid(
            f"{text!r} is not a {kind} id: use a number or gid://shopify/{kind}/NUMBER"
        )
    number = int(value)
    if not 1 <= number <= MAX_SHOPIFY_ID:
        raise ProductIdInvalid(f"{text!r} is out of range for a {kind} id")
    return number


def file_store(*, shop: Shop, source: BinaryIO, name: str, content_type: str | None) -> DigitalFile:
    """Stream `source` into storage and record it. Never holds the file in memory: storage
    copies it in chunks while it is counted and hashed."""
    display_name = PurePath(name.replace("\\", "/")).name[:255] or "file"
    if not content_type:
        content_type = mimetypes.guess_type(display_name)[0] or "application/octet-stream"
    reader = _HashingReader(source)
    stored_name = storage_save(
        storage_name_new(shop_id=shop.pk, original_name=display_name), reader
    )
    try:
        return DigitalFile.objects.create(
            shop=shop,
            name=display_name,
            storage_name=stored_name,
            size=reader.size,
            content_type=content_type[:255],
            sha256=reader.digest.hexdigest(),
        )
    except BaseException:
        # No row points at the bytes: do not leave them behind.
        storage_delete(stored_name)
        raise


def file_attach(*, file: DigitalFile, product_id: int, variant_id: int | None = None) -> Attachment:
    """Attach a file to a product (every variant) or to one variant. Attaching it again to the
    same target returns the existing attachment."""
    for value in (product_id, variant_id):
        if value is not None and not 1 <= value <= MAX_SHOPIFY_ID:
            raise AttachmentInvalid(f"{value} is not a Shopify id")
    existing = Attachment.objects.filter(file=file, product_id=product_id, variant_id=variant_id)
    try:
        with transaction.atomic():
            return Attachment.objects.create(
                shop_id=file.shop_id, file=file, product_id=product_id, variant_id=variant_id
            )
    except IntegrityError:
        # The unique constraints (product-wide and per variant) decide what "the same" is.
        attachment = existing.first()
        if attachment is None:
            raise
        return attachment


class FileInUse(ValueError):
    """The file is still the file of customers' download links: deleting it would break them."""

    def __init__(self, message: str, *, grants: int) -> None:
        super().__init__(message)
        self.grants = grants


def file_replace(
    *, file: DigitalFile, source: BinaryIO, name: str, content_type: str | None
) -> DigitalFile:
    """A new version of `file`: stored as a new file that takes over every attachment, so orders
    from now on get it. Links already sent keep the version they were issued with (their byte
    allowance was counted on its size); the old version is deleted once no link uses it."""
    new = file_store(shop=file.shop, source=source, name=name, content_type=content_type)
    with transaction.atomic():
        for attachment in Attachment.objects.select_for_update().filter(file=file):
            # The new file may be attached to the same target already: then this one just goes.
            target = Attachment.objects.filter(
                file=new, product_id=attachment.product_id, variant_id=attachment.variant_id
            )
            if target.exists():
                attachment.delete()
            else:
                attachment.file = new
                attachment.save(update_fields=["file"])
    with contextlib.suppress(FileInUse):
        file_delete(file=file)
    return new


def file_delete(*, file: DigitalFile) -> None:
    """Delete a file, its attachments and its bytes; refused while download links use it."""
    from imprint.delivery.models import DownloadGrant

    with transaction.atomic():
        grants = DownloadGrant.objects.filter(file=file).count()
        if grants:
            raise FileInUse(
                f"{grants} download link(s) of existing orders use this file.", grants=grants
            )
        try:
            file.delete()  # the grants' PROTECT guards the race with a new order
        except ProtectedError:
            raise FileInUse("Download links of a new order use this file.", grants=1) from None
    storage_delete(file.storage_name)


def attachment_remove(*, attachment: Attachment) -> None:
    """Detach a file from a product or variant: new orders of it no longer get the file."""
    attachment.delete()
