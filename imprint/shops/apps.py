from django.apps import AppConfig


class ShopsConfig(AppConfig):
    name = "imprint.shops"
    label = "shops"
