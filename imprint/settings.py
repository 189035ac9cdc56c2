"""Imprint's settings: every value from the environment, with defaults that run the embedded setup.

The names are part of Imprint's interface (see docs/CONFIGURATION.md); keep them stable.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from imprint.catalog.storage import storage_backend_config, storage_local_dir
from imprint.lib.env import ConfigError, env_bool, env_float, env_int, env_list, env_str, env_url
from imprint.lib.logging import logging_format_apply
from imprint.lib.urls import database_config, email_config

BASE_DIR = Path(__file__).resolve().parent

DATA_DIR = Path(env_str("IMPRINT_DATA_DIR", "./var")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """IMPRINT_SECRET_KEY, or a key generated once into the data directory."""
    configured = env_str("IMPRINT_SECRET_KEY", "")
    if configured:
        if len(configured) < 50:
            raise ConfigError("IMPRINT_SECRET_KEY must be at least 50 characters long")
        return configured
    path = DATA_DIR / "secret_key"
    try:
        # O_EXCL: two processes starting at once must not each write a different key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(64))
    return path.read_text().strip()


SECRET_KEY = _secret_key()
# Old keys, newest first, still accepted for signed values such as download links.
SECRET_KEY_FALLBACKS = env_list("IMPRINT_SECRET_KEY_FALLBACKS")
DEBUG = env_bool("IMPRINT_DEBUG", False)

PUBLIC_URL = env_url(
    "IMPRINT_PUBLIC_URL", "http://127.0.0.1:8000", schemes={"http", "https"}
).rstrip("/")
_public = urlsplit(PUBLIC_URL)
PUBLIC_HOST = _public.hostname or "127.0.0.1"
HTTPS = _public.scheme == "https"

ALLOWED_HOSTS = sorted({PUBLIC_HOST, "127.0.0.1", "localhost", *env_list("IMPRINT_ALLOWED_HOSTS")})
CSRF_TRUSTED_ORIGINS = [PUBLIC_URL]

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_tasks",
    "django_tasks_db",
    "imprint.shops",
    "imprint.catalog",
    "imprint.orders",
    "imprint.delivery",
    "imprint.emails",
    "imprint.jobs",
    "imprint.shopify",
    "imprint.web",
]

MIDDLEWARE = [
    "imprint.lib.logging.RequestIdMiddleware",  # first: every log line of a request has its id
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Before XFrameOptionsMiddleware, so it sees (and undoes, on embedded pages) its DENY.
    "imprint.web.embedded.EmbeddedMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "imprint.urls"
WSGI_APPLICATION = "imprint.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],  # site-wide pages: 400, 403, 404, 500
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": database_config(
        env_str("IMPRINT_DATABASE_URL", ""),
        data_dir=DATA_DIR,
        # `imprint web` turns this off for itself: see imprint/cli.py.
        sqlite_checkpoint=env_bool("IMPRINT_SQLITE_CHECKPOINT", True),
        # PostgreSQL only: connections per process in psycopg's pool (0: no pool, one
        # persistent connection per thread).
        pool_size=env_int("IMPRINT_DATABASE_POOL_SIZE", 0, minimum=0, maximum=100),
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default"],
    }
}

# Jobs: retries back off exponentially from this base, and a job left running longer than the
# lease by a killed worker is put back on the queue by the reaper.
JOB_RETRY_BASE_SECONDS = env_float("IMPRINT_JOB_RETRY_BASE_SECONDS", 30.0)
JOB_MAX_ATTEMPTS = env_int("IMPRINT_JOB_MAX_ATTEMPTS", 8, minimum=1, maximum=50)
JOB_LEASE_SECONDS = env_float("IMPRINT_JOB_LEASE_SECONDS", 300.0, minimum=1.0)
WORKER_POLL_SECONDS = env_float("IMPRINT_WORKER_POLL_SECONDS", 0.5, minimum=0.01)

# How long a presigned object-storage URL stays valid once a download has been checked and
# charged: long enough to finish a large download on a slow line, short enough that a shared
# URL stops working soon. Only for s3:// storage.
DOWNLOAD_URL_SECONDS = env_int(
    "IMPRINT_DOWNLOAD_URL_SECONDS", 6 * 3600, minimum=60, maximum=7 * 24 * 3600
)
STORAGES = {
    "default": storage_backend_config(
        env_str("IMPRINT_STORAGE_URL", ""), data_dir=DATA_DIR, presign_seconds=DOWNLOAD_URL_SECONDS
    ),
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
STORAGE_DIR = storage_local_dir(STORAGES["default"])  # None for object storage
# Behind nginx: after Imprint's checks, a local file is handed to nginx with X-Accel-Redirect
# to this internal location (e.g. /_protected/) instead of being sent by gunicorn.
ACCEL_REDIRECT_PREFIX = env_str("IMPRINT_ACCEL_REDIRECT_PREFIX", "")
if ACCEL_REDIRECT_PREFIX and not (
    ACCEL_REDIRECT_PREFIX.startswith("/") and ACCEL_REDIRECT_PREFIX.endswith("/")
):
    raise ConfigError("IMPRINT_ACCEL_REDIRECT_PREFIX must start and end with / (e.g. /_protected/)")
FILE_UPLOAD_PERMISSIONS = 0o640

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns on every request while it is missing
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

_email = email_config(env_str("IMPRINT_EMAIL_URL", ""))
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email.get("EMAIL_HOST", "localhost")
EMAIL_PORT = _email.get("EMAIL_PORT", 25)
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = _email.get("EMAIL_TIMEOUT", 30)
DEFAULT_FROM_EMAIL = env_str("IMPRINT_FROM_EMAIL", "Imprint <downloads@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Shopify app credentials. SHOPIFY_API_SECRET may hold "current,previous" while a secret is
# rotated: Shopify keeps signing webhooks with the old one for up to an hour.
SHOPIFY_API_KEY = env_str("SHOPIFY_API_KEY", "")
_secrets = env_list("SHOPIFY_API_SECRET")
if len(_secrets) > 2:
    raise ConfigError("SHOPIFY_API_SECRET takes at most two comma-separated secrets")
SHOPIFY_API_SECRET = _secrets[0] if _secrets else ""
SHOPIFY_API_SECRET_PREVIOUS = _secrets[1] if len(_secrets) > 1 else ""
SHOPIFY_API_VERSION = env_str("SHOPIFY_API_VERSION", "2026-10")
SHOPIFY_ADMIN_ORIGIN = env_str("IMPRINT_SHOPIFY_ADMIN_ORIGIN", "")
# Scopes asked for by the authorization-code install (/auth/install); keep in step with
# shopify.app.toml, which Shopify uses for managed installs.
SHOPIFY_SCOPES = env_str("SHOPIFY_SCOPES", "read_orders,read_products")
# Fernet keys for the stores' access tokens at rest, newest first (imprint/shops/crypto.py).
# Unset: one key derived from SECRET_KEY, which is fine for a single machine; production sets it.
ENCRYPTION_KEYS = env_list("IMPRINT_ENCRYPTION_KEYS")
# The order sync that heals lost webhooks: every installed store is synced once per interval
# (0 turns the schedule off), looking back this many days (Shopify shows apps at most 60).
SYNC_INTERVAL_MINUTES = env_int("IMPRINT_SYNC_INTERVAL_MINUTES", 15, minimum=0, maximum=1440)
SYNC_LOOKBACK_DAYS = env_int("IMPRINT_SYNC_LOOKBACK_DAYS", 3, minimum=1, maximum=60)
# Shopify's order payloads are tens of KB; a few MB leaves room for orders with hundreds of lines.
WEBHOOK_MAX_BYTES = env_int("IMPRINT_WEBHOOK_MAX_BYTES", 5 * 1024 * 1024, minimum=1024)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS and env_bool("IMPRINT_SSL_REDIRECT", True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = 31536000 if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Only behind a proxy that sets X-Forwarded-Proto (and X-Forwarded-For) itself: otherwise a
# client could forge them.
BEHIND_PROXY = env_bool("IMPRINT_BEHIND_PROXY", False)
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

WEB_WORKERS = env_int("IMPRINT_WEB_WORKERS", 2, minimum=1, maximum=64)
WEB_THREADS = env_int("IMPRINT_WEB_THREADS", 8, minimum=1, maximum=256)

LOG_LEVEL = env_str("IMPRINT_LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django_tasks_db": {"level": "WARNING"},
        "django_tasks": {"level": "WARNING"},
        # One INFO line per Admin API request would drown the sync's own lines.
        "httpx": {"level": "WARNING"},
    },
}
# IMPRINT_LOG_FORMAT=json: one JSON object per line, with the request id (imprint/lib/logging.py).
LOG_FORMAT = env_str("IMPRINT_LOG_FORMAT", "plain").lower()
if LOG_FORMAT not in {"plain", "json"}:
    raise ConfigError(f"IMPRINT_LOG_FORMAT must be plain or json, not {LOG_FORMAT!r}")
LOGGING = logging_format_apply(LOGGING, log_format=LOG_FORMAT)
# /metrics answers a request carrying "Authorization: Bearer <this token>"; without a token set,
# it answers loopback clients only.
METRICS_TOKEN = env_str("IMPRINT_METRICS_TOKEN", "")
