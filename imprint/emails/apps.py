from django.apps import AppConfig


class EmailsConfig(AppConfig):
    name = "imprint.emails"
    label = "emails"
