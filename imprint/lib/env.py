"""Typed readers for environment variables that refuse nonsense instead of guessing."""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import urlsplit


class ConfigError(ValueError):
    """An environment variable holds a value Imprint cannot use."""


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def env_str(name: str, default: str, *, environ: Mapping[str, str] = os.environ) -> str:
    value = environ.get(name, "")
    return value if value.strip() else default


def env_bool(name: str, default: bool, *, environ: Mapping[str, str] = os.environ) -> bool:
    raw = environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigError(
        f"{name}={raw!r} is not a boolean: use one of true/false, yes/no, on/off, 1/0"
    )


def env_int(
    name: str,
    default: int,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    environ: Mapping[str, str] = os.environ,
) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name}={value} is below the minimum of {minimum}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{name}={value} is above the maximum of {maximum}")
    return value


def env_float(
    name: str, default: float, *, minimum: float = 0.0, environ: Mapping[str, str] = os.environ
) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if value != value or value < minimum or value == float("inf"):
        raise ConfigError(f"{name}={raw!r} must be a finite number of at least {minimum}")
    return value


def env_list(name: str, *, environ: Mapping[str, str] = os.environ) -> list[str]:
    return [item.strip() for item in environ.get(name, "").split(",") if item.strip()]


def env_url(
    name: str, default: str, *, schemes: set[str], environ: Mapping[str, str] = os.environ
) -> str:
    value = env_str(name, default, environ=environ)
    parts = urlsplit(value)
    if parts.scheme not in schemes:
        allowed = ", ".join(sorted(schemes))
        raise ConfigError(f"{name}={value!r} must start with one of: {allowed}")
    return value
