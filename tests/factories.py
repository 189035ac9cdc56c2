"""factory_boy factories: the fixed cast of the tests is shop A, shop B and an anonymous visitor."""

from __future__ import annotations

import datetime as dt
import hashlib

import factory
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from imprint.catalog.models import Attachment, DigitalFile
from imprint.orders.models import FinancialStatus, LineItem, Order
from imprint.shops.crypto import token_encrypt
from imprint.shops.models import Shop


class ShopFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Shop
        django_get_or_create = ("domain",)

    domain = factory.Sequence(lambda n: f"shop-{n}.myshopify.com")
    name = factory.Sequence(lambda n: f"Shop {n}")
    email = factory.Sequence(lambda n: f"owner{n}@shop.example")
    access_token_encrypted = factory.LazyAttribute(lambda o: token_encrypt(o.access_token))

    class Params:
        # The plaintext token: ShopFactory(access_token="") is a store without one.
        access_token = factory.Sequence(lambda n: f"shpat_{n:032d}")


class DigitalFileFactory(factory.django.DjangoModelFactory):
    """A file really kept in storage, with `content` bytes."""

    class Meta:
        model = DigitalFile

    shop = factory.SubFactory(ShopFactory)
    name = "guide.pdf"
    content_type = "application/pdf"
    content = b"%PDF-1.7 imprint test file\n" * 40

    @classmethod
    def _create(cls, model_class, *args, **kwargs):  # type: ignore[no-untyped-def]
        content = kwargs.pop("content")
        stored = default_storage.save(f"test/{kwargs['name']}", ContentFile(content))
        kwargs.update(
            storage_name=stored, size=len(content), sha256=hashlib.sha256(content).hexdigest()
        )
        return super()._create(model_class, *args, **kwargs)


class AttachmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Attachment

    file = factory.SubFactory(DigitalFileFactory)
    shop = factory.SelfAttribute("file.shop")
    product_id = factory.Sequence(lambda n: 7000000000 + n)
    variant_id = None


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    shop = factory.SubFactory(ShopFactory)
    shopify_id = factory.Sequence(lambda n: 820982911946154508 + n)
    name = factory.Sequence(lambda n: f"#{1001 + n}")
    email = "jon@example.com"
    customer_first_name = "Jon"
    customer_last_name = "Snow"
    financial_status = FinancialStatus.PAID
    shopify_created_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(minutes=5))
    shopify_updated_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(minutes=5))


class LineItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LineItem

    order = factory.SubFactory(OrderFactory)
    shopify_id = factory.Sequence(lambda n: 866550311766439020 + n)
    product_id = factory.Sequence(lambda n: 7000000000 + n)
    variant_id = factory.Sequence(lambda n: 8000000000 + n)
    title = "Snowboard Guide"
    quantity = 1
