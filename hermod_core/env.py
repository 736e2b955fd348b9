"""Typed readers for settings that come only from the environment.

Every reader names its variable in the error it raises, so a malformed value stops start-up with
one line that says which variable to fix. Secrets may be given as ``<NAME>_FILE`` (a path whose
content is the value), the convention of Docker and Kubernetes secrets.
"""

import ipaddress
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class EnvError(Exception):
    """A variable of the environment is malformed; the message names it."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name}: {problem}")
        self.name = name


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    file_name = os.environ.get(f"{name}_FILE")
    if file_name and value is None:
        try:
            return Path(file_name).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise EnvError(f"{name}_FILE", f"cannot read {file_name!r} ({exc.strerror})") from None
    return value


def env_str(name: str, default: str) -> str:
    value = _raw(name)
    return default if value is None else value.strip()


# Parts of the placeholder values that example files and tutorials ship: a secret containing one
# was copied, not chosen.
_PLACEHOLDER_MARKERS = (
    "change-me",
    "changeme",
    "change_me",
    "replace-me",
    "placeholder",
    "example",
    "django-insecure",
)
MIN_SECRET_BYTES = 32


def secret_weakness(value: str) -> str | None:
    """Why ``value`` cannot be a production secret, or None. Never repeats the value."""
    if not value:
        return "is empty; set a random value of at least 32 bytes"
    if len(value.encode()) < MIN_SECRET_BYTES:
        return f"is shorter than {MIN_SECRET_BYTES} bytes; set a longer random value"
    lowered = value.lower()
    if any(marker in lowered for marker in _PLACEHOLDER_MARKERS):
        return "is a placeholder from an example file; set a random value"
    if len(set(value)) < 8:
        return "has fewer than 8 distinct characters; set a random value"
    return None


def env_secret(name: str, default: Callable[[], str], *, strict: bool) -> str:
    """A secret: the variable's value (or ``<NAME>_FILE``), or ``default()`` when it is unset.

    With ``strict`` (production: ``DJANGO_DEBUG`` off) a value that is set but empty, short, of
    too few distinct characters or a known placeholder stops start-up with one line naming the
    variable: a server must never run on a secret anyone can guess.
    """
    value = _raw(name)
    if value is None:
        return default()
    value = value.strip()
    if strict and (problem := secret_weakness(value)):
        raise EnvError(name, problem)
    return value or default()


def env_str_or_none(name: str) -> str | None:
    """The value, or None when the variable (and ``<NAME>_FILE``) is not set at all: for a
    setting where "set but empty" and "not set" mean different things."""
    value = _raw(name)
    return None if value is None else value.strip()


def env_int(
    name: str, default: int, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    value = _raw(name)
    if value is None or value.strip() == "":
        return default
    try:
        number = int(value.strip())
    except ValueError:
        raise EnvError(name, f"expected an integer, got {value!r}") from None
    if minimum is not None and number < minimum:
        raise EnvError(name, f"must be at least {minimum}, got {number}")
    if maximum is not None and number > maximum:
        raise EnvError(name, f"must be at most {maximum}, got {number}")
    return number


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise EnvError(name, f"expected true or false, got {value!r}")


def env_list(name: str, default: list[str]) -> list[str]:
    value = _raw(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def env_networks(name: str, default: tuple[str, ...] = ()) -> tuple[Network, ...]:
    """Comma-separated IPv4/IPv6 addresses or CIDR networks (``10.0.0.5, 172.30.57.0/24,
    2001:db8::/64``); a bare address is a network of one. Host bits set under the prefix length
    (``10.0.0.5/8``) are refused: such a value is more likely a typo than a network."""
    networks = []
    for item in env_list(name, list(default)):
        try:
            networks.append(ipaddress.ip_network(item, strict=True))
        except ValueError as exc:
            raise EnvError(name, f"expected addresses or CIDR networks: {exc}") from None
    return tuple(networks)


def env_http_url(name: str, default: str) -> str:
    """An absolute http(s) URL without query or fragment; trailing slashes removed."""
    value = env_str(name, default)
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise EnvError(name, f"expected an absolute http(s) URL, got {value!r}")
    if parts.query or parts.fragment:
        raise EnvError(name, "must not carry a query or fragment")
    return value.rstrip("/")


def env_path(name: str, default: str | None) -> Path | None:
    value = _raw(name)
    if value is None or value.strip() == "":
        return Path(default) if default else None
    return Path(value.strip())


@dataclass(frozen=True)
class Database:
    """Django's DATABASES['default'] entry derived from a DATABASE_URL."""

    config: dict[str, Any]

    @property
    def vendor(self) -> str:
        return "postgresql" if "postgresql" in self.config["ENGINE"] else "sqlite"


def parse_database_url(name: str, value: str, *, prepared_statements: bool = True) -> Database:
    """``postgres://user:pass@host:port/db?sslmode=...`` or ``sqlite:///relative`` / ``sqlite:////abs``.

    On PostgreSQL the parameters are bound by the server and a statement run a fifth time on a
    connection is prepared (psycopg's default threshold), so PostgreSQL parses it once per
    connection, and plans it once where a generic plan serves (docs/performance.md).
    ``prepared_statements=False`` keeps Django's default of binding on the client, for a pooler
    in transaction mode that cannot keep prepared statements.
    """
    parts = urlsplit(value)
    if parts.scheme == "sqlite":
        path = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
        if not path:
            raise EnvError(
                name, "a sqlite URL needs a file path, e.g. sqlite:///var/hermod.sqlite3"
            )
        return Database(
            {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": path,
                "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
            }
        )
    if parts.scheme in {"postgres", "postgresql", "pgsql"}:
        name_part = unquote(parts.path.lstrip("/"))
        if not name_part:
            raise EnvError(name, "a PostgreSQL URL needs a database name")
        try:
            port = parts.port
        except ValueError:
            raise EnvError(name, "the port is not a number") from None
        options: dict[str, Any] = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        if prepared_statements:
            options |= {"server_side_binding": True, "prepare_threshold": 5}
        return Database(
            {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": name_part,
                "USER": unquote(parts.username or ""),
                "PASSWORD": unquote(parts.password or ""),
                "HOST": parts.hostname or "",
                "PORT": str(port or ""),
                "OPTIONS": options,
                "CONN_MAX_AGE": 60,
                "CONN_HEALTH_CHECKS": True,
            }
        )
    raise EnvError(name, f"unsupported scheme {parts.scheme!r} (use postgres:// or sqlite:///)")


def env_database(name: str, default: str, *, prepared_statements: bool = True) -> Database:
    return parse_database_url(name, env_str(name, default), prepared_statements=prepared_statements)
