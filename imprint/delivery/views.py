from django.http import HttpRequest, HttpResponse


def download_page(request: HttpRequest, token: str) -> HttpResponse:
    raise NotImplementedError


def download_file(request: HttpRequest, token: str) -> HttpResponse:
    raise NotImplementedError
