from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "imprint.web"
    label = "web"
