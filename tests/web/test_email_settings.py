from __future__ import annotations

from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from imprint.emails.rendering import delivery_email_render
from imprint.shops.models import Shop
from tests.web.conftest import order_with_files

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
BRANDING = {
    "sender_name": "Snowboard Books",
    "reply_to": "help@snowboard.example",
    "accent_color": "#0b5394",
    "subject": "Your {shop_name} files for {order_name}",
    "greeting": "Hi {first_name}!",
    "footer": "Ride safe, {first_name}.",
}


def _branding(shop: Shop) -> tuple[str, ...]:
    shop.refresh_from_db()
    return (
        shop.email_sender_name,
        shop.email_reply_to,
        shop.email_accent_color,
        shop.email_subject,
        shop.email_greeting,
        shop.email_footer,
    )


def test_email_page_shows_the_form_and_the_default_preview(client_a, shop_a):
    html = client_a.get("/app/email").content.decode()
    assert "Your downloads from Shop A (order #1001)" in html
    assert "Hello Alex," in html
    assert 'name="accent_color"' in html


def test_saved_branding_is_used_by_the_delivery_email(client_a, shop_a):
    response = client_a.post("/app/email", BRANDING, follow=True)
    assert "Email settings saved." in response.content.decode()
    assert _branding(shop_a) == (
        "Snowboard Books",
        "help@snowboard.example",
        "#0b5394",
        "Your {shop_name} files for {order_name}",
        "Hi {first_name}!",
        "Ride safe, {first_name}.",
    )
    order = order_with_files(shop_a, name="#1042", customer_first_name="Ada")
    rendered = delivery_email_render(order=order, grants=list(order.grants.all()))
    assert rendered.subject == "Your Shop A files for #1042"
    assert rendered.text.startswith("Hi Ada!")
    assert "Ride safe, Ada." in rendered.text
    assert "#0b5394" in rendered.html
    assert "Ride safe, Ada." in rendered.html


def test_greeting_without_a_first_name_leaves_no_stray_space(client_a, shop_a):
    client_a.post("/app/email", {**BRANDING, "greeting": "Hello {first_name},"})
    order = order_with_files(shop_a, customer_first_name="")
    rendered = delivery_email_render(order=order, grants=list(order.grants.all()))
    assert rendered.text.startswith("Hello,\n")


def test_unknown_placeholder_is_explained_and_nothing_saved(client_a, shop_a):
    response = client_a.post("/app/email", {**BRANDING, "subject": "Files for {customer}"})
    assert response.status_code == 400
    assert (
        "{customer} is not a placeholder. Use {first_name}, {order_name}, {shop_name}."
        in response.content.decode()
    )
    assert _branding(shop_a) == ("", "", "#1a1a1a", "", "", "")


def test_too_light_accent_colour_is_refused_for_contrast(client_a, shop_a):
    response = client_a.post("/app/email", {**BRANDING, "accent_color": "#ffee88"})
    assert response.status_code == 400
    assert "This colour is too light" in response.content.decode()
    assert _branding(shop_a)[2] == "#1a1a1a"


def test_bad_reply_to_and_colour_are_explained(client_a, shop_a):
    response = client_a.post("/app/email", {**BRANDING, "reply_to": "nope", "accent_color": "blue"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Enter a valid email address, like help@example.com." in html
    assert "Use a colour like #1a1a1a." in html
    assert _branding(shop_a) == ("", "", "#1a1a1a", "", "", "")


def test_live_preview_renders_unsaved_values(client_a, shop_a):
    response = client_a.post(
        "/app/email/preview",
        {**BRANDING, "subject": "Preview for {order_name}"},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert "Preview for #1001" in html
    assert "Hi Alex!" in html
    assert "&lt;html" not in html.split("srcdoc=")[0]
    assert _branding(shop_a)[3] == ""


def test_live_preview_explains_a_bad_placeholder(client_a):
    html = client_a.post("/app/email/preview", {**BRANDING, "footer": "{nope}"}).content.decode()
    assert "{nope} is not a placeholder." in html


def test_logo_upload_is_served_publicly_and_shown_in_the_email(client_a, shop_a):
    response = client_a.post(
        "/app/email/logo",
        {"logo": SimpleUploadedFile("logo.png", PNG, content_type="image/png")},
        follow=True,
    )
    assert "Logo saved." in response.content.decode()
    shop_a.refresh_from_db()
    order = order_with_files(shop_a)
    html = delivery_email_render(order=order, grants=list(order.grants.all())).html
    url = html.split('<img src="')[1].split('"')[0]
    path = url.removeprefix("http://127.0.0.1:8000")
    served = Client().get(path)
    assert served.status_code == 200
    assert b"".join(served.streaming_content) == PNG
    assert served["Content-Type"] == "image/png"
    assert Client().get(path[:-4] + "0000").status_code == 404


def test_logo_must_be_an_image(client_a, shop_a):
    fake = SimpleUploadedFile("logo.png", b"<script>alert(1)</script>", content_type="image/png")
    response = client_a.post("/app/email/logo", {"logo": fake})
    assert response.status_code == 400
    assert "This file is not a PNG, JPEG or GIF image." in response.content.decode()
    pdf = SimpleUploadedFile("logo.pdf", b"%PDF", content_type="application/pdf")
    assert (
        "The logo must be a PNG, JPEG or GIF image."
        in client_a.post("/app/email/logo", {"logo": pdf}).content.decode()
    )
    assert _branding(shop_a)
    assert Shop.objects.get(pk=shop_a.pk).email_logo == ""


def test_logo_remove(client_a, shop_a):
    client_a.post(
        "/app/email/logo", {"logo": SimpleUploadedFile("logo.png", PNG, content_type="image/png")}
    )
    client_a.post("/app/email/logo/remove")
    assert Shop.objects.get(pk=shop_a.pk).email_logo == ""


def test_send_a_test_email(client_a, shop_a):
    client_a.post("/app/email", BRANDING)
    response = client_a.post("/app/email/test", {"to": "me@shop-a.example"}, follow=True)
    assert "Test email sent to me@shop-a.example." in response.content.decode()
    (message,) = mail.outbox
    assert message.to == ["me@shop-a.example"]
    assert message.subject == "[Test] Your Shop A files for #1001"
    assert message.from_email == "Snowboard Books <downloads@localhost>"
    assert message.reply_to == ["help@snowboard.example"]
    assert "/d/" not in message.body
    assert message.alternatives[0][1] == "text/html"


def test_test_email_to_a_bad_address_sends_nothing(client_a):
    response = client_a.post("/app/email/test", {"to": "not-an-address"})
    assert response.status_code == 400
    assert "Enter a valid email address, like you@example.com." in response.content.decode()
    assert mail.outbox == []


def test_test_email_when_the_mail_server_is_down_says_so_plainly(client_a, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    response = client_a.post("/app/email/test", {"to": "me@shop-a.example"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "The mail server did not accept the test email." in html
    assert "Errno" not in html
