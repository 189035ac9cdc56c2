from __future__ import annotations

import hashlib

from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from imprint.catalog.models import Attachment, DigitalFile
from imprint.delivery.models import DownloadGrant
from imprint.web.models import ProductLabel
from tests.factories import AttachmentFactory, DigitalFileFactory
from tests.web.conftest import order_with_files, shopify_shop

CONTENT = b"%PDF-1.7 the merchant's guide\n" * 100


def _stored(file: DigitalFile) -> bytes:
    with default_storage.open(file.storage_name, "rb") as handle:
        return handle.read()


def test_raw_put_upload_stores_the_file(client_a, shop_a):
    response = client_a.put(
        "/app/files/upload",
        data=CONTENT,
        content_type="application/pdf",
        HTTP_X_FILE_NAME="Snowboard%20Guide.pdf",
    )
    assert response.status_code == 200
    file = DigitalFile.objects.get()
    assert response.json() == {
        "id": file.pk,
        "name": "Snowboard Guide.pdf",
        "redirect": "/app/files",
    }
    assert (file.shop, file.size, file.content_type) == (shop_a, len(CONTENT), "application/pdf")
    assert file.sha256 == hashlib.sha256(CONTENT).hexdigest()
    assert _stored(file) == CONTENT


def test_raw_upload_guesses_the_type_from_the_name(client_a):
    client_a.put(
        "/app/files/upload",
        data=b"PK\x03\x04",
        content_type="application/octet-stream",
        HTTP_X_FILE_NAME="pack.zip",
    )
    assert DigitalFile.objects.get().content_type == "application/zip"


def test_raw_upload_without_a_name_is_refused(client_a):
    response = client_a.put("/app/files/upload", data=CONTENT, content_type="application/pdf")
    assert response.status_code == 400
    assert response.json() == {"error": "The upload has no file name."}
    assert DigitalFile.objects.count() == 0


def test_multipart_upload_without_javascript(client_a, shop_a):
    upload = SimpleUploadedFile("guide.pdf", CONTENT, content_type="application/pdf")
    response = client_a.post("/app/files/upload", {"file": upload}, follow=True)
    assert "guide.pdf uploaded." in response.content.decode()
    assert _stored(DigitalFile.objects.get(shop=shop_a)) == CONTENT


def test_multipart_upload_without_a_file_explains(client_a):
    response = client_a.post("/app/files/upload", {})
    assert response.status_code == 400
    assert "Choose a file to upload." in response.content.decode()
    assert DigitalFile.objects.count() == 0


def test_files_page_lists_size_type_and_attachments_of_this_store_only(client_a, shop_a, shop_b):
    file = DigitalFileFactory(shop=shop_a, name="guide.pdf")
    AttachmentFactory(shop=shop_a, file=file, product_id=123)
    ProductLabel.objects.create(shop=shop_a, product_id=123, title="Snowboard Guide")
    DigitalFileFactory(shop=shop_b, name="secret-of-b.pdf")
    html = client_a.get("/app/files").content.decode()
    assert "guide.pdf" in html
    assert "1.1\xa0KB" in html
    assert "application/pdf" in html
    assert "Snowboard Guide (every variant)" in html
    assert "secret-of-b.pdf" not in html


def test_attach_to_a_product_and_one_variant(client_a, shop_a):
    file = DigitalFileFactory(shop=shop_a)
    client_a.post(
        f"/app/files/{file.pk}/attach", {"product": "gid://shopify/Product/55", "title": "Guide"}
    )
    response = client_a.post(
        f"/app/files/{file.pk}/attach",
        {
            "product": "56",
            "variant": "gid://shopify/ProductVariant/77",
            "title": "Course",
            "variant_title": "Pro",
        },
        follow=True,
    )
    assert "attached to Course (Pro)" in response.content.decode()
    assert sorted(Attachment.objects.values_list("product_id", "variant_id")) == [
        (55, None),
        (56, 77),
    ]
    assert sorted(ProductLabel.objects.values_list("product_id", "variant_id", "title")) == [
        (55, 0, "Guide"),
        (56, 0, "Course"),
        (56, 77, "Pro"),
    ]


def test_attach_with_a_bad_product_id_explains_and_attaches_nothing(client_a, shop_a):
    file = DigitalFileFactory(shop=shop_a)
    response = client_a.post(
        f"/app/files/{file.pk}/attach", {"product": "snowboard", "variant": "x"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "Enter a product id (a number) or pick a product from the search." in html
    assert "Enter a variant id (a number), or leave it empty for every variant." in html
    assert Attachment.objects.count() == 0


def test_another_stores_file_is_not_found_for_every_action(client_b, shop_a):
    file = DigitalFileFactory(shop=shop_a)
    attachment = AttachmentFactory(shop=shop_a, file=file)
    assert client_b.post(f"/app/files/{file.pk}/attach", {"product": "5"}).status_code == 404
    assert client_b.post(f"/app/files/{file.pk}/delete").status_code == 404
    assert client_b.get(f"/app/files/{file.pk}/confirm-delete").status_code == 404
    assert (
        client_b.put(
            f"/app/files/{file.pk}/replace", data=b"x", HTTP_X_FILE_NAME="x.pdf"
        ).status_code
        == 404
    )
    assert client_b.post(f"/app/attachments/{attachment.pk}/remove").status_code == 404
    assert DigitalFile.objects.count() == 1
    assert list(Attachment.objects.values_list("pk", "file_id")) == [(attachment.pk, file.pk)]


def test_delete_an_unused_file(client_a, shop_a):
    file = DigitalFileFactory(shop=shop_a)
    AttachmentFactory(shop=shop_a, file=file)
    page = client_a.get(f"/app/files/{file.pk}/confirm-delete").content.decode()
    assert "This cannot be undone." in page
    response = client_a.post(f"/app/files/{file.pk}/delete", follow=True)
    assert "guide.pdf deleted." in response.content.decode()
    assert DigitalFile.objects.count() == 0
    assert Attachment.objects.count() == 0
    assert not default_storage.exists(file.storage_name)


def test_delete_is_refused_while_orders_use_the_file(client_a, shop_a):
    order = order_with_files(shop_a)
    file = order.grants.get().file
    page = client_a.get(f"/app/files/{file.pk}/confirm-delete").content.decode()
    assert "cannot be deleted" in page
    response = client_a.post(f"/app/files/{file.pk}/delete", follow=True)
    assert (
        "was not deleted: 1 download link(s) of existing orders use this file."
        in response.content.decode()
    )
    assert DigitalFile.objects.filter(pk=file.pk).exists()
    assert default_storage.exists(file.storage_name)


def test_detach_a_file(client_a, shop_a):
    attachment = AttachmentFactory(shop=shop_a, file=DigitalFileFactory(shop=shop_a))
    client_a.post(f"/app/attachments/{attachment.pk}/remove")
    assert Attachment.objects.count() == 0
    assert DigitalFile.objects.count() == 1


def test_replace_moves_attachments_and_old_links_keep_their_version(client_a, shop_a):
    order = order_with_files(shop_a)
    old = order.grants.get().file
    response = client_a.put(
        f"/app/files/{old.pk}/replace",
        data=b"version 2",
        content_type="application/pdf",
        HTTP_X_FILE_NAME="guide-v2.pdf",
    )
    assert response.status_code == 200
    new = DigitalFile.objects.get(name="guide-v2.pdf")
    assert list(Attachment.objects.values_list("file_id", flat=True)) == [new.pk]
    assert DownloadGrant.objects.get().file_id == old.pk
    assert _stored(old) == b"%PDF-1.7 imprint test file\n" * 40
    assert _stored(new) == b"version 2"


def test_replace_of_an_unused_file_deletes_the_old_version(client_a, shop_a):
    old = DigitalFileFactory(shop=shop_a)
    AttachmentFactory(shop=shop_a, file=old, product_id=9)
    upload = SimpleUploadedFile("guide.pdf", b"v2", content_type="application/pdf")
    client_a.post(f"/app/files/{old.pk}/replace", {"file": upload})
    assert list(DigitalFile.objects.values_list("name", "size")) == [("guide.pdf", 2)]
    assert Attachment.objects.get().product_id == 9
    assert not default_storage.exists(old.storage_name)


def test_product_picker_lists_the_stores_products_from_shopify(client_a, shop_a, shopify):
    shopify_shop(shopify, shop_a)
    guide = shopify.product_create(shop=shop_a.domain, title="Snowboard Guide")
    course = shopify.product_create(
        shop=shop_a.domain, title="Snowboard Course", variants=["Basic", "Pro"]
    )
    shopify.product_create(shop=shop_a.domain, title="Ski Wax")
    html = client_a.get("/app/files/products", {"q": "snowboard", "file": "1"}).content.decode()
    assert f'data-pick-product="{guide.id}"' in html
    assert f'data-pick-product="{course.id}"' in html
    assert "Pro only" in html
    assert "Ski Wax" not in html


def test_product_picker_explains_when_shopify_cannot_be_reached(client_a, shop_a, settings):
    settings.SHOPIFY_ADMIN_ORIGIN = "http://127.0.0.1:9"  # nothing listens on the discard port
    from imprint.shopify import admin

    original = admin.MAX_TRANSIENT_ATTEMPTS
    admin.MAX_TRANSIENT_ATTEMPTS = 1
    try:
        html = client_a.get("/app/files/products", {"q": "x"}).content.decode()
    finally:
        admin.MAX_TRANSIENT_ATTEMPTS = original
    assert "Shopify did not answer the product search." in html
