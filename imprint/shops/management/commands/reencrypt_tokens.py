"""`imprint manage reencrypt_tokens`: every store's tokens under the newest encryption key."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from imprint.shops.crypto import key_generate
from imprint.shops.services import tokens_reencrypt


class Command(BaseCommand):
    help = (
        "Re-encrypt every store's access and refresh tokens under the first key of "
        "IMPRINT_ENCRYPTION_KEYS; afterwards the older keys can be removed. "
        "--new-key prints a fresh key to put first and changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--new-key", action="store_true", help="print a new Fernet key and exit"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["new_key"]:
            self.stdout.write(key_generate())
            return
        count = tokens_reencrypt()
        self.stdout.write(f"Re-encrypted the tokens of {count} store(s) under the newest key.")
