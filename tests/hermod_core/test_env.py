import pytest
from django.db import connection

from hermod_core import sql
from hermod_core.env import (
    EnvError,
    env_bool,
    env_database,
    env_http_url,
    env_int,
    env_list,
    env_networks,
    env_str,
)
from tests.required_services import service_missing


def test_it_reads_integers_within_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HERMOD_X", " 42 ")
    assert env_int("HERMOD_X", 1, minimum=1, maximum=100) == 42


def test_it_falls_back_to_the_default_when_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HERMOD_X", raising=False)
    assert env_int("HERMOD_X", 7) == 7
    assert env_bool("HERMOD_X", True) is True
    assert env_list("HERMOD_X", ["a"]) == ["a"]


@pytest.mark.parametrize(
    ("value", "problem"),
    [("abc", "expected an integer"), ("0", "at least 1"), ("1000", "at most 100")],
)
def test_it_names_the_variable_of_a_malformed_integer(
    monkeypatch: pytest.MonkeyPatch, value: str, problem: str
) -> None:
    monkeypatch.setenv("HERMOD_X", value)
    with pytest.raises(EnvError, match=f"^HERMOD_X: .*{problem}"):
        env_int("HERMOD_X", 1, minimum=1, maximum=100)


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("0", False), ("YES", True)])
def test_it_reads_booleans(monkeypatch: pytest.MonkeyPatch, value: str, expected: bool) -> None:
    monkeypatch.setenv("DJANGO_DEBUG", value)
    assert env_bool("DJANGO_DEBUG", False) is expected


def test_it_refuses_a_boolean_it_cannot_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DJANGO_DEBUG", "maybe")
    with pytest.raises(EnvError, match=r"^DJANGO_DEBUG: "):
        env_bool("DJANGO_DEBUG", False)


def test_it_splits_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DJANGO_ALLOWED_HOSTS", "a.example, b.example,,")
    assert env_list("DJANGO_ALLOWED_HOSTS", []) == ["a.example", "b.example"]


def test_it_reads_a_secret_from_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    monkeypatch.delenv("DJANGO_SECRET_KEY", raising=False)
    monkeypatch.setenv("DJANGO_SECRET_KEY_FILE", str(secret))
    assert env_str("DJANGO_SECRET_KEY", "") == "s3cret"


def test_it_names_an_unreadable_secret_file(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.delenv("DJANGO_SECRET_KEY", raising=False)
    monkeypatch.setenv("DJANGO_SECRET_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(EnvError, match=r"^DJANGO_SECRET_KEY_FILE: cannot read"):
        env_str("DJANGO_SECRET_KEY", "")


def test_it_reads_public_urls_and_drops_the_trailing_slash(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HERMOD_PUBLIC_URL", "https://hermod.example.com:20400/hermod/rest/ms/")
    assert (
        env_http_url("HERMOD_PUBLIC_URL", "") == "https://hermod.example.com:20400/hermod/rest/ms"
    )


@pytest.mark.parametrize("value", ["ftp://x/ms", "hermod.example.com/ms", "https://x/ms?a=1"])
def test_it_refuses_a_public_url_that_is_not_absolute_http(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("HERMOD_PUBLIC_URL", value)
    with pytest.raises(EnvError, match=r"^HERMOD_PUBLIC_URL: "):
        env_http_url("HERMOD_PUBLIC_URL", "")


def test_it_parses_a_postgres_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p%40ss@db.local:6543/hermod?sslmode=require")
    database = env_database("DATABASE_URL", "")
    assert database.vendor == "postgresql"
    assert database.config["ENGINE"] == "django.db.backends.postgresql"
    assert (database.config["USER"], database.config["PASSWORD"]) == ("u", "p@ss")
    assert (database.config["HOST"], database.config["PORT"]) == ("db.local", "6543")
    assert database.config["NAME"] == "hermod"
    assert database.config["OPTIONS"] == {
        "sslmode": "require",
        "server_side_binding": True,
        "prepare_threshold": 5,
    }


def test_prepared_statements_can_be_turned_off_for_a_pooler(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://u@db.local/hermod?sslmode=require")
    database = env_database("DATABASE_URL", "", prepared_statements=False)
    assert database.config["OPTIONS"] == {"sslmode": "require"}


@pytest.mark.django_db
def test_postgresql_prepares_a_statement_a_connection_repeats() -> None:
    if connection.vendor != "postgresql":
        service_missing("PostgreSQL (DATABASE_URL=postgres://...)")
    for _ in range(6):
        assert sql.client_by_client_id("nobody") is None
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [statement for (statement,) in cursor.fetchall()]
    assert any("FROM hermod_client WHERE client_id = $1" in s for s in prepared), prepared


def test_it_parses_a_sqlite_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "sqlite:////tmp/h.sqlite3")
    database = env_database("DATABASE_URL", "")
    assert database.vendor == "sqlite"
    assert database.config["NAME"] == "/tmp/h.sqlite3"


@pytest.mark.parametrize(
    "value", ["mysql://x/y", "postgres://host/", "postgres://h:port/db", "sqlite://"]
)
def test_it_refuses_a_database_url_it_cannot_use(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", value)
    with pytest.raises(EnvError, match=r"^DATABASE_URL: "):
        env_database("DATABASE_URL", "")


def test_it_reads_trusted_proxy_networks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HERMOD_TRUSTED_PROXIES", " 172.30.57.1, 10.0.0.0/8,2001:db8::/64 ,")
    assert [str(n) for n in env_networks("HERMOD_TRUSTED_PROXIES")] == [
        "172.30.57.1/32",
        "10.0.0.0/8",
        "2001:db8::/64",
    ]
    monkeypatch.delenv("HERMOD_TRUSTED_PROXIES")
    assert env_networks("HERMOD_TRUSTED_PROXIES") == ()


@pytest.mark.parametrize("value", ["proxy.local", "10.0.0.1/8", "10.0.0.0/33", "::1/129"])
def test_it_refuses_a_trusted_proxy_that_is_no_network(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("HERMOD_TRUSTED_PROXIES", f"10.0.0.2, {value}")
    with pytest.raises(EnvError, match=r"^HERMOD_TRUSTED_PROXIES: "):
        env_networks("HERMOD_TRUSTED_PROXIES")
