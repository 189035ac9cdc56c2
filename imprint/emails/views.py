from django.http import HttpRequest, HttpResponse


def mailbox(request: HttpRequest) -> HttpResponse:
    raise NotImplementedError


def mailbox_message(request: HttpRequest, message_id: int) -> HttpResponse:
    raise NotImplementedError
