from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from imprint.cli import main
from imprint.web.auth import LOGIN_MAX_AGE_SECONDS, login_link_create
from imprint.web.models import LoginNonce


def _path(url: str) -> str:
    return url.removeprefix("http://127.0.0.1:8000").removeprefix("https://imprint.example")


@pytest.fixture(autouse=True)
def _public_url(settings) -> None:
    settings.PUBLIC_URL = "https://imprint.example"


def test_login_link_signs_in_and_redirects_to_orders(shop_a):
    client = Client()
    url = login_link_create(shop=shop_a)
    assert url.startswith("https://imprint.example/app/login/")
    response = client.get(_path(url))
    assert response.status_code == 302
    assert response["Location"] == "/app/"
    cookie = response.cookies["sessionid"]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    page = client.get("/app/")
    assert page.status_code == 200
    assert "Shop A" in page.content.decode()


def test_login_link_works_once(shop_a):
    path = _path(login_link_create(shop=shop_a))
    assert Client().get(path).status_code == 302
    second = Client().get(path)
    assert second.status_code == 403
    assert "already" in second.content.decode()
    assert LoginNonce.objects.count() == 1


def test_login_link_expires_after_ten_minutes(shop_a):
    start = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        path = _path(login_link_create(shop=shop_a))
    with time_machine.travel(start + dt.timedelta(seconds=LOGIN_MAX_AGE_SECONDS + 1), tick=False):
        response = Client().get(path)
    assert response.status_code == 403
    assert "expired" in response.content.decode()
    assert LoginNonce.objects.count() == 0


def test_forged_login_link_is_refused(shop_a):
    path = _path(login_link_create(shop=shop_a))
    response = Client().get(path[:-3] + "abc")
    assert response.status_code == 403
    assert "not valid" in response.content.decode()
    assert LoginNonce.objects.count() == 0


def test_login_link_of_an_uninstalled_store_is_refused(shop_a):
    path = _path(login_link_create(shop=shop_a))
    shop_a.uninstalled_at = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    shop_a.save()
    client = Client()
    response = client.get(path)
    assert response.status_code == 403
    assert "does not use Imprint any more" in response.content.decode()
    assert client.get("/app/").status_code == 403
    assert LoginNonce.objects.count() == 0


def _app_urls() -> list[str]:
    """Every /app/ URL pattern with 1 for each parameter (so new pages are covered too)."""
    resolver = get_resolver()
    urls = []
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver) and str(pattern.pattern) == "app/":
            for sub in pattern.url_patterns:
                assert isinstance(sub, URLPattern)
                route = str(sub.pattern)
                if route.startswith("login/"):
                    continue
                for name in ("order_id", "file_id", "attachment_id", "product_id", "request_id"):
                    route = route.replace(f"<int:{name}>", "1")
                urls.append("/app/" + route.replace("<str:action>", "reset"))
    return urls


@pytest.mark.django_db
def test_every_app_page_without_a_session_explains_how_to_sign_in():
    urls = _app_urls()
    assert len(urls) >= 25
    for url in urls:
        for method in ("get", "post"):
            response = getattr(Client(), method)(url)
            if url == "/app/logout":
                continue  # signing out needs no store
            assert response.status_code in (403, 405), (method, url, response.status_code)
            if response.status_code == 403:
                assert "imprint login-link --shop" in response.content.decode(), url


def test_sign_out_ends_the_session(client_a):
    assert client_a.get("/app/").status_code == 200
    assert client_a.post("/app/logout").status_code == 200
    assert client_a.get("/app/").status_code == 403


def test_session_of_an_uninstalled_store_is_refused(client_a, shop_a):
    shop_a.uninstalled_at = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    shop_a.save()
    assert client_a.get("/app/").status_code == 403


def test_cli_login_link_prints_a_working_link(shop_a, capsys):
    assert main(["login-link", "--shop", "shop-a.myshopify.com"]) == 0
    out = capsys.readouterr()
    url = out.out.strip()
    assert url.startswith("https://imprint.example/app/login/")
    assert "10 minutes" in out.err
    client = Client()
    assert client.get(_path(url)).status_code == 302
    assert client.get("/app/").status_code == 200


def test_cli_login_link_for_an_unknown_store_fails(db, capsys):
    assert main(["login-link", "--shop", "nobody.myshopify.com"]) == 1
    assert "no shop nobody.myshopify.com" in capsys.readouterr().err
    assert LoginNonce.objects.count() == 0
