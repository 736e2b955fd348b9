"""The command-line tools: hermod_client, import_clients, export_clients."""

import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from hermod_core.models import AuditEvent, Client
from hermod_core.protocol.api_key import parse_api_key_header
from hermod_core.services.credentials import api_key_matches
from tests.seeds import CAMEL, KEBAB

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_create_prints_the_key_once_with_the_header_value() -> None:
    out = run("hermod_client", "create", "idm", "--group", "smartid", "--callback-url",
              "https://idm.example.com/ws/hermod")  # fmt: skip
    key = re.search(r"^key: ([0-9a-f]{64})$", out, re.M).group(1)  # type: ignore[union-attr]
    header = re.search(r"^X-Api-Key: (\S+)$", out, re.M).group(1)  # type: ignore[union-attr]
    parsed = parse_api_key_header(header)
    assert parsed is not None
    assert (parsed.client_id, parsed.key) == ("idm", key)
    client = Client.objects.get(client_id="idm")
    assert client.group.name == "smartid"
    assert api_key_matches(key, client.key_hash)
    assert key not in run("hermod_client", "list")


def test_rotate_disable_enable_and_list() -> None:
    first = run("hermod_client", "create", "idm")
    old_key = re.search(r"^key: (\S+)$", first, re.M).group(1)  # type: ignore[union-attr]
    rotated = run("hermod_client", "rotate", "idm")
    new_key = re.search(r"^key: (\S+)$", rotated, re.M).group(1)  # type: ignore[union-attr]
    client = Client.objects.get(client_id="idm")
    assert not api_key_matches(old_key, client.key_hash)
    assert api_key_matches(new_key, client.key_hash)
    run("hermod_client", "disable", "idm")
    assert "idm\tdefault\tdisabled" in run("hermod_client", "list")
    run("hermod_client", "enable", "idm")
    assert "idm\tdefault\tenabled" in run("hermod_client", "list")
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"client.create", "client.rotate_key", "client.disable", "client.enable"} <= actions


def test_an_unknown_client_is_a_clear_error() -> None:
    with pytest.raises(CommandError, match="no client 'ghost'"):
        run("hermod_client", "rotate", "ghost")


def test_import_then_export_round_trips_without_keys(tmp_path) -> None:
    (tmp_path / "kebab.yml").write_text(KEBAB)
    (tmp_path / "camel.yml").write_text(CAMEL)
    assert "created 2: idm, da" in run("import_clients", str(tmp_path / "kebab.yml"))
    assert "created 1: hermod-app" in run("import_clients", str(tmp_path / "camel.yml"))
    assert "updated 2: idm, da" in run("import_clients", str(tmp_path / "kebab.yml"))
    assert Client.objects.count() == 3
    exported = run("export_clients")
    assert exported.startswith("allowed-clients:\n")
    assert "key:" not in exported
    assert "client-id: hermod-app" in exported
    assert "callback-basic-auth: primeuser:primeuserpw" in exported


def _every_client_field() -> list[dict[str, object]]:
    return list(Client.objects.order_by("client_id").values())


def test_export_then_import_changes_no_client(tmp_path) -> None:
    run("hermod_client", "create", "idm", "--group", "smartid", "--callback-url",
        "https://idm.example.com/ws/hermod", "--callback-basic-auth", "user:p@ss: word",
        "--callback-signing-secret", "sign-me-0123456789")  # fmt: skip
    run("hermod_client", "create", "da", "--group", "smartid", "--callback-signing-secret", "s2")
    run("hermod_client", "create", "yes", "--group", "123")
    run("hermod_client", "create", "plain")
    run("hermod_client", "disable", "plain")
    before = _every_client_field()
    (tmp_path / "clients.yml").write_text(run("export_clients"))
    assert "updated 4" in run("import_clients", str(tmp_path / "clients.yml"))
    assert _every_client_field() == before


def test_an_entry_keeps_what_it_does_not_mention_and_changes_what_it_does(tmp_path) -> None:
    run("hermod_client", "create", "idm", "--group", "smartid", "--callback-url",
        "https://idm.example.com/ws/hermod", "--callback-basic-auth", "user:pw",
        "--callback-signing-secret", "sign-me")  # fmt: skip
    (tmp_path / "one.yml").write_text(
        "allowed-clients:\n  - client-id: idm\n    callback-url: https://new.example.com/cb\n"
    )
    run("import_clients", str(tmp_path / "one.yml"))
    client = Client.objects.select_related("group").get(client_id="idm")
    assert client.callback_url == "https://new.example.com/cb"
    assert (client.group.name, client.callback_basic_auth) == ("smartid", "user:pw")
    assert client.callback_signing_secret == "sign-me"
    (tmp_path / "clear.yml").write_text(
        "allowed-clients:\n  - client-id: idm\n    callback-basic-auth: ''\n"
        "    callback-signing-secret: ''\n  - client-id: fresh\n"
    )
    run("import_clients", str(tmp_path / "clear.yml"))
    client.refresh_from_db()
    assert (client.callback_basic_auth, client.callback_signing_secret) == ("", "")
    assert Client.objects.get(client_id="fresh").group.name == "default"


def test_import_reports_a_bad_file_without_a_traceback(tmp_path) -> None:
    (tmp_path / "bad.yml").write_text("allowed-clients:\n  - key: k\n")
    with pytest.raises(CommandError, match="client-id is missing"):
        run("import_clients", str(tmp_path / "bad.yml"))
    with pytest.raises(CommandError, match="cannot read"):
        run("import_clients", str(tmp_path / "missing.yml"))
    (tmp_path / "binary.yml").write_bytes(b"allowed-clients: [\xff]\n")
    with pytest.raises(CommandError, match="is not UTF-8 text"):
        run("import_clients", str(tmp_path / "binary.yml"))
    (tmp_path / "deep.yml").write_text("allowed-clients: " + "[" * 200_000)
    with pytest.raises(CommandError, match="nested deeper than 20 levels"):
        run("import_clients", str(tmp_path / "deep.yml"))
    (tmp_path / "huge.yml").write_text("allowed-clients: []\n" + "#" * 3 * 1024 * 1024)
    with pytest.raises(CommandError, match="larger than 1024 KiB"):
        run("import_clients", str(tmp_path / "huge.yml"))


def test_a_malformed_setting_stops_start_up_with_one_line_naming_it(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        env={"PORT": "eighty", "HERMOD_VAR_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "configuration error: PORT: expected an integer, got 'eighty'"
    ]


def _start(tmp_path, argv: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *argv],
        env={"HERMOD_VAR_DIR": str(tmp_path), "PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_an_empty_metrics_token_stops_start_up_unless_debug_is_on(tmp_path) -> None:
    refused = _start(tmp_path, ["manage.py", "check"], HERMOD_METRICS_TOKEN="")
    assert refused.returncode == 2
    (line,) = refused.stderr.strip().splitlines()
    assert line.startswith("configuration error: HERMOD_METRICS_TOKEN: must not be empty")
    debug = _start(tmp_path, ["manage.py", "check"], HERMOD_METRICS_TOKEN="", DJANGO_DEBUG="true")
    assert debug.returncode == 0, debug.stderr


def test_without_a_metrics_token_one_is_kept_in_var_as_make_run_needs(tmp_path) -> None:
    first = _start(tmp_path, ["manage.py", "check"])
    assert first.returncode == 0, first.stderr
    token_file = tmp_path / "metrics-token"
    token = token_file.read_text(encoding="utf-8")
    assert len(token) >= 40
    assert token_file.stat().st_mode & 0o777 == 0o600
    assert _start(tmp_path, ["manage.py", "check"]).returncode == 0
    assert token_file.read_text(encoding="utf-8") == token


def test_gunicorn_refuses_an_empty_metrics_token_with_one_line(tmp_path) -> None:
    refused = _start(
        tmp_path,
        ["-m", "gunicorn", "hermod_core.wsgi", "--bind", "127.0.0.1:0", "--workers", "1"],
        HERMOD_METRICS_TOKEN="",
    )
    assert refused.returncode != 0
    lines = refused.stderr.splitlines()
    assert [line for line in lines if "HERMOD_METRICS_TOKEN" in line] == [
        next(line for line in lines if line.startswith("configuration error: HERMOD_METRICS"))
    ]
    assert "Traceback" not in refused.stderr


def _check(tmp_path, **env: str) -> subprocess.CompletedProcess[str]:
    return _start(tmp_path, ["manage.py", "check"], **env)


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("DJANGO_SECRET_KEY", "", "is empty"),
        ("DJANGO_SECRET_KEY", "s3cret-but-short", "is shorter than 32 bytes"),
        ("DJANGO_SECRET_KEY", "change-me-to-a-long-random-string", "is a placeholder"),
        ("HERMOD_KEY_HASH_SECRET", "", "is empty"),
        ("HERMOD_KEY_HASH_SECRET", "ab" * 20, "has fewer than 8 distinct characters"),
    ],
)
def test_a_guessable_secret_stops_start_up_when_debug_is_off(
    tmp_path, name: str, value: str, problem: str
) -> None:
    result = _check(tmp_path, **{name: value})
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"configuration error: {name}: {problem}")
    if value:
        assert value not in line  # the refusal never repeats the secret


def test_the_secrets_of_the_example_env_file_are_refused(tmp_path) -> None:
    example = (Path(__file__).resolve().parents[3] / "docker" / ".env.example").read_text()
    values = dict(
        line.split("=", 1) for line in example.splitlines() if line and not line.startswith("#")
    )
    for name in ("DJANGO_SECRET_KEY", "HERMOD_KEY_HASH_SECRET", "HERMOD_METRICS_TOKEN"):
        result = _check(tmp_path, **{name: values[name]})
        assert result.returncode == 2, name
        assert f"configuration error: {name}: " in result.stderr


def test_debug_and_unset_secrets_still_start(tmp_path) -> None:
    assert _check(tmp_path, DJANGO_DEBUG="true", DJANGO_SECRET_KEY="dev").returncode == 0
    # Unset: a random key is made and kept in var/ (make run on a fresh machine).
    assert _check(tmp_path).returncode == 0
    assert len((tmp_path / "secret-key").read_text()) >= 50


@pytest.mark.parametrize("client_id", ["idm:admin", " idm", "x" * 101])
def test_create_refuses_a_client_id_the_api_key_header_cannot_carry(client_id) -> None:
    with pytest.raises(CommandError, match="invalid client_id"):
        run("hermod_client", "create", client_id, "--group", "fresh")
    assert not Client.objects.exists()
