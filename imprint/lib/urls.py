"""Turn the URL-shaped settings (database, email, storage) into Django settings."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import environ

from imprint.lib.env import ConfigError

MAILBOX_BACKEND = "imprint.emails.mailbox.MailboxBackend"
SMTP_TIMEOUT_SECONDS = 30  # a mail server that takes longer is treated as down and retried later


def database_config(
    url: str, *, data_dir: Path, sqlite_checkpoint: bool = True, pool_size: int = 0
) -> dict[str, Any]:
    """Django DATABASES["default"] for a URL; empty means SQLite in the data directory."""
    if not url:
        url = f"sqlite:///{data_dir / 'imprint.sqlite3'}"
    scheme = urlsplit(url).scheme
    if scheme not in {"sqlite", "postgres", "postgresql", "pgsql"}:
        raise ConfigError(
            f"IMPRINT_DATABASE_URL must be sqlite:///PATH or postgres://..., not {scheme!r}"
        )
    config: dict[str, Any] = environ.Env.db_url_config(url)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        config["ENGINE"] = "imprint.lib.sqlite"  # Django's, with a finer wait for the write lock
        config["OPTIONS"] = {
            # WAL lets the web process read while a worker writes; IMMEDIATE takes the write
            # lock at BEGIN so two writers queue on busy_timeout instead of failing with
            # "database is locked" when a read transaction tries to upgrade.
            "init_command": "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;PRAGMA foreign_keys=ON"
            + ("" if sqlite_checkpoint else ";PRAGMA wal_autocheckpoint=0"),
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
        }
        # A file-backed test database, so that servers and workers started by the tests in
        # their own processes see the same data as the test; named per process so that two
        # test runs on one machine never share one.
        test_name = f"test_imprint_{os.getpid()}.sqlite3"
        config["TEST"] = {"NAME": str(Path(config["NAME"]).with_name(test_name))}
        # Keep connections: opening one runs the PRAGMAs above, and the job worker would otherwise
        # reconnect after every job (django-tasks-db closes connections past their age).
        config["CONN_MAX_AGE"] = None
    else:
        config["ENGINE"] = "django.db.backends.postgresql"
        # Workers keep their connection between jobs; the web process reuses it across requests.
        config["CONN_MAX_AGE"] = 60
        config["CONN_HEALTH_CHECKS"] = True
        config.setdefault("OPTIONS", {})["connect_timeout"] = 10
        if pool_size:
            # psycopg's pool: a thread borrows a connection per request or job and gives it
            # back, so many threads share a few connections. Django requires CONN_MAX_AGE 0
            # with a pool; the pool checks a connection before lending it.
            config["CONN_MAX_AGE"] = 0
            config["CONN_HEALTH_CHECKS"] = False
            config["OPTIONS"]["pool"] = {"min_size": 1, "max_size": pool_size, "timeout": 10}
        config["TEST"] = {"NAME": f"test_{config['NAME']}_{os.getpid()}"}
    return config


def email_config(url: str) -> dict[str, Any]:
    """Django email settings for IMPRINT_EMAIL_URL; empty means the local mailbox."""
    if not url:
        return {"EMAIL_BACKEND": MAILBOX_BACKEND}
    parts = urlsplit(url)
    if parts.scheme not in {"smtp", "smtp+tls", "smtps"}:
        raise ConfigError(
            f"IMPRINT_EMAIL_URL must be smtp://host:port, smtp+tls://user:pass@host:587 or "
            f"smtps://user:pass@host:465, not {parts.scheme!r}"
        )
    if not parts.hostname:
        raise ConfigError("IMPRINT_EMAIL_URL has no host name")
    default_port = {"smtp": 25, "smtp+tls": 587, "smtps": 465}[parts.scheme]
    try:
        port = parts.port or default_port
    except ValueError:
        raise ConfigError("IMPRINT_EMAIL_URL has an invalid port") from None
    query = parse_qs(parts.query)
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": parts.hostname,
        "EMAIL_PORT": port,
        "EMAIL_HOST_USER": unquote(parts.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
        "EMAIL_USE_TLS": parts.scheme == "smtp+tls",
        "EMAIL_USE_SSL": parts.scheme == "smtps",
        "EMAIL_TIMEOUT": int(query.get("timeout", [SMTP_TIMEOUT_SECONDS])[0]),
    }


def storage_location(url: str, *, data_dir: Path) -> Path:
    """Directory for uploaded files; empty means `files/` in the data directory."""
    if not url:
        return data_dir / "files"
    parts = urlsplit(url)
    if parts.scheme != "file":
        raise ConfigError(
            f"IMPRINT_STORAGE_URL must be file:///ABSOLUTE/PATH (or unset for the data directory), "
            f"not {parts.scheme!r}"
        )
    return Path(unquote(parts.path))
