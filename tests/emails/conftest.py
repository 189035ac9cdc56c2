import pytest


@pytest.fixture(autouse=True)
def _email_settings(settings) -> None:
    settings.PUBLIC_URL = "https://imprint.example"
    settings.DEFAULT_FROM_EMAIL = "Imprint <downloads@imprint.example>"
