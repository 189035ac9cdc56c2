from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    name = "imprint.delivery"
    label = "delivery"
