"""Files in S3-compatible object storage (IMPRINT_STORAGE_URL=s3://...), against a real S3 API
server on loopback: moto in server mode, started by the test."""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from imprint.catalog.models import DigitalFile
from imprint.catalog.s3 import PART_BYTES
from imprint.catalog.services import file_store
from imprint.catalog.storage import (
    S3_BACKEND,
    storage_backend_config,
    storage_delete,
    storage_exists,
    storage_open,
    storage_reachable,
)
from imprint.lib.env import ConfigError
from tests.processes import free_port

REGION = "eu-west-1"

# moto's HTTP server logs every request at INFO: noise in a failing test's output.
logging.getLogger("werkzeug").setLevel(logging.WARNING)


class PartSource:
    """A large file made up on the fly that must never be read more than a part at a time."""

    def __init__(self, size: int) -> None:
        self.remaining = size
        self.block = hashlib.sha256(b"imprint").digest() * 2048  # 64 KiB of varied bytes
        self.largest_read = 0

    def read(self, n: int = -1) -> bytes:
        assert 0 < n <= PART_BYTES, f"read({n}): more than a part was asked for"
        self.largest_read = max(self.largest_read, n)
        data = (self.block * (n // len(self.block) + 1))[: min(n, self.remaining)]
        self.remaining -= len(data)
        return data

    @staticmethod
    def digest(size: int) -> str:
        reference, digest = PartSource(size), hashlib.sha256()
        while data := reference.read(1024 * 1024):
            digest.update(data)
        return digest.hexdigest()


class S3Server:
    def __init__(self, endpoint: str, bucket: str) -> None:
        self.endpoint = endpoint
        self.bucket = bucket
        self.client = boto3.client("s3", endpoint_url=endpoint, region_name=REGION)

    def url(self, bucket: str | None = None) -> str:
        return (
            f"s3://{bucket or self.bucket}/imprint?endpoint_url={self.endpoint}"
            f"&region={REGION}&addressing_style=path"
        )

    def head(self, key: str) -> dict[str, Any]:
        return self.client.head_object(Bucket=self.bucket, Key=key)


@pytest.fixture(scope="module")
def _moto_server() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_storage(_moto_server: str, settings, monkeypatch, tmp_path: Path) -> S3Server:
    """Imprint's default storage is a fresh bucket on the local S3 server."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "imprint-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "imprint-test-secret")
    server = S3Server(_moto_server, f"imprint-{secrets.token_hex(6)}")
    server.client.create_bucket(
        Bucket=server.bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    settings.STORAGES = {
        **settings.STORAGES,
        "default": storage_backend_config(
            server.url(), data_dir=tmp_path, presign_seconds=settings.DOWNLOAD_URL_SECONDS
        ),
    }
    return server


def test_s3_url_becomes_the_s3_backend_with_its_options(tmp_path: Path) -> None:
    config = storage_backend_config(
        "s3://Media-Bucket/shops/files?endpoint_url=https://minio.internal:9000&region=eu-central-1",
        data_dir=tmp_path,
        presign_seconds=3600,
    )

    assert config["BACKEND"] == S3_BACKEND
    options = config["OPTIONS"]
    assert options["bucket_name"] == "Media-Bucket"
    assert options["location"] == "shops/files"
    assert options["endpoint_url"] == "https://minio.internal:9000"
    assert options["region_name"] == "eu-central-1"
    assert options["querystring_expire"] == 3600
    assert options["default_acl"] is None


def test_empty_and_file_urls_stay_local(tmp_path: Path) -> None:
    assert storage_backend_config("", data_dir=tmp_path, presign_seconds=60)["OPTIONS"][
        "location"
    ] == str(tmp_path / "files")
    assert storage_backend_config("file:///srv/files", data_dir=tmp_path, presign_seconds=60)[
        "OPTIONS"
    ]["location"] == str(Path("/srv/files"))


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("s3://key:secret@bucket", "must not hold credentials"),
        ("s3:///prefix", "has no bucket name"),
        ("s3://bucket?endpoint=http://x", "unknown option(s) endpoint"),
        ("s3://bucket?addressing_style=sideways", "addressing_style must be"),
        ("ftp://host/files", "must be file:///ABSOLUTE/PATH"),
    ],
)
def test_bad_storage_urls_are_refused_with_the_reason(
    url: str, message: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        storage_backend_config(url, data_dir=tmp_path, presign_seconds=60)


@pytest.mark.django_db
def test_a_large_upload_goes_up_in_parts_and_reads_back_whole(shop_a, s3_storage) -> None:
    size = 2 * PART_BYTES + 12345
    source = PartSource(size)

    stored = file_store(shop=shop_a, source=source, name="Big Atlas.tar.gz", content_type=None)

    assert stored.size == size
    assert stored.sha256 == PartSource.digest(size)
    assert source.largest_read == PART_BYTES  # memory: one part per read, never the file
    # Three parts: the object's ETag is the multipart kind ("<md5 of the part md5s>-3").
    head = s3_storage.head(f"imprint/{stored.storage_name}")
    assert head["ETag"].strip('"').endswith("-3")
    assert head["ContentLength"] == size
    # No guessed Content-Encoding (a .tar.gz would be unpacked by browsers).
    assert "ContentEncoding" not in head
    with storage_open(stored.storage_name) as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == stored.sha256


@pytest.mark.django_db
def test_stored_file_can_be_deleted_from_the_bucket(shop_a, s3_storage) -> None:
    stored = file_store(shop=shop_a, source=PartSource(1000), name="a.pdf", content_type=None)
    assert storage_exists(stored.storage_name) is True

    storage_delete(stored.storage_name)

    assert storage_exists(stored.storage_name) is False
    assert DigitalFile.objects.filter(pk=stored.pk).exists()  # the row is the service's business


@pytest.mark.django_db
def test_opening_a_missing_object_raises_oserror(s3_storage) -> None:
    with pytest.raises(OSError, match=r"does not exist|Not Found|404"):
        storage_open("shops/1/nothing-here.pdf")


def test_storage_is_reachable_while_the_bucket_answers(s3_storage, settings, tmp_path) -> None:
    assert storage_reachable() is True

    settings.STORAGES = {
        **settings.STORAGES,
        "default": storage_backend_config(
            s3_storage.url(bucket="no-such-bucket"), data_dir=tmp_path, presign_seconds=60
        ),
    }

    assert storage_reachable() is False
