from django.http import HttpRequest, HttpResponse


def webhook(request: HttpRequest) -> HttpResponse:
    raise NotImplementedError
