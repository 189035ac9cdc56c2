import pytest
from django.urls import path


def _broken(request):  # type: ignore[no-untyped-def]
    raise RuntimeError("secret internals: password=hunter2")


urlpatterns = [path("broken", _broken)]


@pytest.mark.django_db
def test_unknown_page_is_a_plain_friendly_404(client) -> None:
    response = client.get("/no/such/page")

    assert response.status_code == 404
    assert b"Page not found" in response.content
    assert b"Traceback" not in response.content


@pytest.mark.urls("tests.test_error_pages")
def test_an_unexpected_error_shows_a_friendly_page_without_internals(client) -> None:
    client.raise_request_exception = False

    response = client.get("/broken")

    assert response.status_code == 500
    assert b"Something went wrong" in response.content
    assert b"nothing was counted" in response.content
    assert b"hunter2" not in response.content
    assert b"RuntimeError" not in response.content
