from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "imprint.catalog"
    label = "catalog"
