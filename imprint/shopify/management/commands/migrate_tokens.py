"""`imprint manage migrate_tokens [--shop DOMAIN]`: swap old non-expiring offline tokens for
expiring ones, once per store (Shopify's migration by token exchange)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from imprint.shopify.oauth import OAuthError, shop_token_migrate
from imprint.shops.models import Shop


class Command(BaseCommand):
    help = (
        "Exchange each installed store's non-expiring offline token for an expiring one "
        "(access 1 hour, refresh 90 days). Stores whose token expires already are skipped. "
        "A custom app's fixed shpat_ token cannot be migrated: Shopify refuses, and it is reported."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--shop", metavar="DOMAIN", help="only this store")

    def handle(self, *args: Any, **options: Any) -> None:
        shops = Shop.objects.filter(
            uninstalled_at__isnull=True, access_token_expires_at__isnull=True
        ).exclude(access_token_encrypted="")
        if options["shop"]:
            shops = shops.filter(domain=options["shop"].strip().lower())
        migrated = failed = 0
        for shop in shops.order_by("pk"):
            try:
                if shop_token_migrate(shop=shop):
                    migrated += 1
            except OAuthError as error:
                failed += 1
                self.stderr.write(f"{shop.domain}: {error}")
        self.stdout.write(f"Migrated {migrated} store(s) to expiring tokens; {failed} failed.")
        if failed:
            raise CommandError(f"{failed} store(s) could not be migrated")
