"""Migrations apply, and /healthz answers, on both supported databases (fresh processes)."""

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.required_services import service_missing

ROOT = Path(__file__).resolve().parents[2]
POSTGRES_ADMIN_URL = os.environ.get(
    "HERMOD_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"
)

HEALTHZ = """
import json, django
django.setup()
from django.test import Client
response = Client().get("/healthz", HTTP_HOST="localhost")
print(json.dumps({"status": response.status_code, "body": response.json()}))
"""


def _run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def _env(database_url: str, var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "CELERY_"))}
    env |= {
        "DATABASE_URL": database_url,
        "HERMOD_VAR_DIR": str(var_dir),
        "DJANGO_SETTINGS_MODULE": "hermod_core.settings",
    }
    return env


def _migrate_and_check_health(database_url: str, var_dir: Path, vendor: str) -> None:
    env = _env(database_url, var_dir)
    migrate = _run([sys.executable, "manage.py", "migrate", "--noinput"], env)
    assert migrate.returncode == 0, migrate.stderr
    check = _run([sys.executable, "manage.py", "makemigrations", "--check", "--dry-run"], env)
    assert check.returncode == 0, check.stdout + check.stderr
    health = _run([sys.executable, "-c", HEALTHZ], env)
    assert health.returncode == 0, health.stderr
    result = json.loads(health.stdout.strip().splitlines()[-1])
    assert result["status"] == 200
    assert result["body"]["database"] == {"ok": True, "vendor": vendor}
    assert result["body"]["broker"]["ok"] is True


@pytest.fixture
def postgres_database() -> Iterator[str]:
    name = f"hermod_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        service_missing(f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.services
def test_migrations_apply_and_healthz_answers_on_postgresql(postgres_database, tmp_path) -> None:
    _migrate_and_check_health(postgres_database, tmp_path, "postgresql")


def test_migrations_apply_and_healthz_answers_on_sqlite(tmp_path) -> None:
    _migrate_and_check_health(f"sqlite:///{tmp_path / 'h.sqlite3'}", tmp_path, "sqlite")


def test_healthz_answers_503_when_the_database_is_unreachable(tmp_path) -> None:
    env = _env("postgres://nobody@127.0.0.1:1/nothing", tmp_path)
    health = _run([sys.executable, "-c", HEALTHZ], env)
    result = json.loads(health.stdout.strip().splitlines()[-1])
    assert result["status"] == 503
    assert result["body"]["database"]["ok"] is False
