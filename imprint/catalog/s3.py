"""S3-compatible object storage (AWS S3, MinIO, Ceph, R2, ...) through django-storages.

Imported only when IMPRINT_STORAGE_URL is an s3:// URL, so a local setup never loads boto3.
"""

from __future__ import annotations

from typing import Any

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import BotoCoreError, ClientError
from django.core.files import File
from storages.backends.s3 import S3Storage

# Uploads go up in parts of this size, at most this many at once: a 5 GB file costs a few tens
# of MB of memory, never its size. 8 MiB parts allow files up to 80 GB (S3 takes 10,000 parts).
PART_BYTES = 8 * 1024 * 1024
PART_CONCURRENCY = 4


class ImprintS3Storage(S3Storage):
    """django-storages' S3Storage with Imprint's choices: multipart uploads in bounded memory,
    no content type or encoding guessed from the name (the download view sets the type on each
    presigned URL; a guessed `Content-Encoding: gzip` for `.tar.gz` would make browsers unpack
    the customer's archive), and storage failures raised as OSError like a local disk's."""

    def __init__(self, **settings: Any) -> None:
        settings.setdefault(
            "transfer_config",
            TransferConfig(
                multipart_threshold=PART_BYTES,
                multipart_chunksize=PART_BYTES,
                max_concurrency=PART_CONCURRENCY,
            ),
        )
        settings.setdefault("object_parameters", {"ContentType": "application/octet-stream"})
        super().__init__(**settings)

    def _open(self, name: str, mode: str = "rb") -> File:
        try:
            return super()._open(name, mode)
        except (ClientError, BotoCoreError) as exc:
            raise OSError(f"object storage: {exc}") from exc

    def reachable(self) -> bool:
        """Whether the bucket answers (HEAD bucket): for /readyz."""
        try:
            self.connection.meta.client.head_bucket(Bucket=self.bucket_name)
        except (ClientError, BotoCoreError):
            return False
        return True
