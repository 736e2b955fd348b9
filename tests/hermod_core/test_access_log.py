"""Access logs never contain a one-time token, an Authorization or API-key header, or an
enrollment code: the pure redaction, gunicorn's atoms, Django's request log, and real access
lines of gunicorn started as ``manage.py serve`` starts it."""

import json
import logging
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from hermod_core.access_log import REDACTED, RedactingFilter, redact, redact_atoms
from hermod_core.management.commands.serve import gunicorn_argv
from hermod_core.observability import JsonFormatter
from tests.required_services import free_port

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "Zm9vYmFyLXNlY3JldC10b2tlbg"
CODE = "ENROLLCODE7Q3"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (f"GET /ms/b1?token={TOKEN} HTTP/1.1", f"GET /ms/b1?token={REDACTED} HTTP/1.1"),
        (f"GET /ms/b1?a=1&token={TOKEN}&b=2", f"GET /ms/b1?a=1&token={REDACTED}&b=2"),
        (f"/ms/b1?Token={TOKEN}", f"/ms/b1?Token={REDACTED}"),
        (f"?boxtoken={TOKEN}", f"?boxtoken={REDACTED}"),
        (
            f"com.nexusgroup.plugout:///?url=https%3A%2F%2Fh%2Fms%2Fb1&token={TOKEN}",
            f"com.nexusgroup.plugout:///?url=https%3A%2F%2Fh%2Fms%2Fb1&token={REDACTED}",
        ),
        (f"https://h/x?next=%2Fms%2Fb1%3Ftoken%3D{TOKEN}%26x%3D1", None),
        (f"GET /enroll/{CODE} HTTP/1.1", f"GET /enroll/{REDACTED} HTTP/1.1"),
        (f"GET /enroll/{CODE}/status?x=1", f"GET /enroll/{REDACTED}/status?x=1"),
        (
            f"https://hermod.example.com/enroll/{CODE}",
            f"https://hermod.example.com/enroll/{REDACTED}",
        ),
        ("GET /hermod/rest/command/poll/42 HTTP/1.1", "GET /hermod/rest/command/poll/42 HTTP/1.1"),
    ],
)
def test_tokens_and_enrollment_codes_are_redacted(line: str, expected: str | None) -> None:
    redacted = redact(line)
    assert TOKEN not in redacted
    assert CODE not in redacted
    if expected is not None:
        assert redacted == expected


def test_credential_headers_are_replaced_whole_in_the_atoms() -> None:
    atoms = {
        "r": f"GET /ms/b1?token={TOKEN} HTTP/1.1",
        "q": f"token={TOKEN}",
        "f": f"https://h/enroll/{CODE}",
        "{authorization}i": f"Bearer {TOKEN}",
        "{x-api-key}i": "aWRtOmtleQ==",
        "{cookie}i": "sessionid=s3cr3t",
        "{http_authorization}e": f"Bearer {TOKEN}",
        "{http_x_api_key}e": "aWRtOmtleQ==",
        "{set-cookie}o": "sessionid=s3cr3t",
        "{user-agent}i": "okhttp/4",
        "s": 200,
    }
    safe = redact_atoms(atoms)
    text = repr(safe)
    for secret in (TOKEN, CODE, "aWRtOmtleQ==", "s3cr3t"):
        assert secret not in text
    assert safe["{user-agent}i"] == "okhttp/4"
    assert safe["s"] == 200


def test_djangos_request_log_is_redacted() -> None:
    record = logging.makeLogRecord(
        {"name": "django.request", "msg": "Not Found: %s", "args": (f"/enroll/{CODE}",)}
    )
    assert RedactingFilter().filter(record)
    assert record.getMessage() == f"Not Found: /enroll/{REDACTED}"


def test_json_logs_redact_the_request_django_attaches(rf) -> None:
    request = rf.get(f"/enroll/{CODE}/status", {"token": TOKEN})
    record = logging.makeLogRecord(
        {"name": "django.request", "msg": "Not Found: %s", "args": (request.path,)}
    )
    record.request = request
    record.status_code = 404
    entry = json.loads(JsonFormatter().format(record))
    assert TOKEN not in json.dumps(entry)
    assert CODE not in json.dumps(entry)
    assert entry["status_code"] == 404
    assert REDACTED in entry["request"]


def test_gunicorn_as_serve_starts_it_writes_no_secret_into_its_access_lines(tmp_path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HERMOD_", "DATABASE_"))}
    env |= {
        "HERMOD_VAR_DIR": str(tmp_path),
        "DJANGO_SECRET_KEY": "access-log-test-secret-key-0123456789",
        "HERMOD_METRICS_TOKEN": "metrics-token-for-the-access-log-test",
        "CELERY_BROKER_URL": "filesystem://",
        # An operator's own format naming the credential headers: still redacted.
        "GUNICORN_CMD_ARGS": '--access-logformat \'%(r)s %(s)s "%(f)s" '
        "auth=%({authorization}i)s key=%({x-api-key}i)s'",
    }
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert migrate.returncode == 0, migrate.stderr
    log = tmp_path / "web.log"
    argv = gunicorn_argv(sys.executable, f"127.0.0.1:{port}", 1)
    with log.open("wb") as out:
        web = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"{base}/healthz", timeout=10)
                break
            except requests.RequestException:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.3)
        box = uuid.uuid4()
        requests.get(f"{base}/hermod/rest/ms/{box}?token={TOKEN}", timeout=10)
        requests.get(
            f"{base}/hermod/rest/ms/{box}",
            headers={"Authorization": f"Bearer {TOKEN}", "X-Api-Key": "aWRtOmtleQ=="},
            timeout=10,
        )
        requests.get(
            f"{base}/enroll/{CODE}/status",
            headers={"Referer": f"{base}/enroll/{CODE}?token={TOKEN}"},
            timeout=10,
        )
    finally:
        web.terminate()
        web.wait(timeout=30)
    text = log.read_text()
    lines = [line for line in text.splitlines() if "HTTP/1.1" in line]
    assert len(lines) >= 4, text
    assert f"GET /hermod/rest/ms/{box}?token={REDACTED} HTTP/1.1 404" in text
    assert f"auth={REDACTED} key={REDACTED}" in text
    assert f"GET /enroll/{REDACTED}/status HTTP/1.1" in text
    for secret in (TOKEN, CODE, "aWRtOmtleQ=="):
        assert secret not in text
