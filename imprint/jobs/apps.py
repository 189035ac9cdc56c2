from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "imprint.jobs"
    label = "jobs"
