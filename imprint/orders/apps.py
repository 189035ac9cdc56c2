from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "imprint.orders"
    label = "orders"
