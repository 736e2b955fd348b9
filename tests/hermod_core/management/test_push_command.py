"""``manage.py hermod_push``: set and show a group's push providers; secrets from files only,
never printed."""

import json
from io import StringIO
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from django.core.management import CommandError, call_command

from hermod_core.models import AuditEvent, GroupPushSettings

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("hermod_push", *args, stdout=out)
    return out.getvalue()


def test_it_sets_every_provider_and_shows_them_without_secrets(client_a, tmp_path: Path) -> None:
    credential = tmp_path / "relay"
    credential.write_text("hermod:relay-secret\n")
    account = tmp_path / "fcm.json"
    account.write_text(
        json.dumps({"project_id": "p1", "client_email": "a@p1.iam", "private_key": "FCM-SECRET"})
    )
    key = tmp_path / "AuthKey.p8"
    key.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
        )
    )
    shown = run(
        "set", "smartid", "--relay-url", "https://notify.example.com/push", "--relay-auth",
        "basic", "--relay-credential-file", str(credential), "--webpush", "on",
        "--fcm-service-account", str(account), "--apns-key", str(key), "--apns-key-id",
        "KEY1234567", "--apns-team-id", "TEAM123456", "--apns-topic", "com.example.app",
        "--apns-environment", "sandbox", "--requestor", "Example Bank",
    )  # fmt: skip
    assert "providers: apns, fcm, relay, webpush" in shown
    assert "environment=sandbox" in shown
    assert "relay-secret" not in shown
    assert "FCM-SECRET" not in shown
    assert "PRIVATE KEY" not in shown
    config = GroupPushSettings.objects.get(group__name="smartid")
    assert config.apns_sandbox
    assert AuditEvent.objects.filter(action="group.push_settings", actor="cli").exists()
    assert "providers: apns, relay, webpush" in run("set", "smartid", "--clear", "fcm")


def test_it_refuses_an_unknown_group_and_a_broken_setting(client_a, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="no group"):
        run("show", "nope")
    key = tmp_path / "bad.p8"
    key.write_text("not a key")
    with pytest.raises(CommandError, match="PEM"):
        run("set", "smartid", "--apns-key", str(key))
    assert "no push configured" in run("show", "smartid")
