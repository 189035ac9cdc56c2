from django.apps import AppConfig


class ShopifyConfig(AppConfig):
    name = "imprint.shopify"
    label = "shopify"
