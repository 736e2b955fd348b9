"""Operator diagnostics for refused API keys (issue 16 item 8): the client always gets the same
401, while the server log says which check failed; and a key rotation may keep the old key valid
for a grace period the admin chooses (0 by default), checked in constant time beside the new one.
"""

import base64
import logging
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from hermod_core.models import AuditEvent, Client
from hermod_core.services.audit import Actor
from hermod_core.services.clients import ClientError, client_rotate_key, client_set_enabled
from hermod_core.services.credentials import KeyMatch, api_key_check, api_key_hash
from tests.api_client import b64
from tests.factories import Persona
from tests.matchers import EXPECTED_401

pytestmark = pytest.mark.django_db

POLL = "/hermod/rest/command/poll/1"


def refusal_logged(caplog: pytest.LogCaptureFixture) -> str:
    (record,) = [r for r in caplog.records if r.name == "hermod.auth"]
    assert record.levelno == logging.WARNING
    return record.getMessage()


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("no header", "malformed header: no X-Api-Key header"),
        ("not base64", "malformed header: the header is not standard base64"),
        ("no colon", "malformed header: the decoded header has no ':'"),
        ("empty key", "malformed header: the decoded header has an empty key"),
        ("not utf-8", "malformed header: the decoded header is not UTF-8 text"),
        ("unknown client", "unknown client 'nobody'"),
        ("wrong key", "wrong key for client 'idm'; its key was last set "),
        ("echo newline", "wrong key for client 'idm' (it ends with a newline or space: encode "),
        ("disabled", "client 'idm' is disabled"),
    ],
)
def test_each_refusal_gets_the_same_401_and_the_log_says_why(
    client, client_a: Persona, caplog: pytest.LogCaptureFixture, case: str, reason: str
) -> None:
    headers = {
        "no header": {},
        "not base64": {"HTTP_X_API_KEY": "%%%not-base64%%%"},
        "no colon": {"HTTP_X_API_KEY": b64(f"idm{client_a.key}")},
        "empty key": {"HTTP_X_API_KEY": b64("idm:")},
        "not utf-8": {"HTTP_X_API_KEY": base64.b64encode(b"\xff\xfe:\xff").decode()},
        "unknown client": {"HTTP_X_API_KEY": b64(f"nobody:{client_a.key}")},
        "wrong key": {"HTTP_X_API_KEY": b64(f"idm:{'0' * 64}")},
        # `echo 'idm:<key>' | base64` encodes echo's newline into the key.
        "echo newline": {"HTTP_X_API_KEY": b64(f"idm:{client_a.key}\n")},
        "disabled": client_a.headers,
    }[case]
    if case == "disabled":
        client_set_enabled(client=client_a.client, enabled=False, actor=Actor.system("test"))
    with caplog.at_level(logging.WARNING, logger="hermod.auth"):
        response = client.get(POLL, **headers)
    assert response.status_code == 401
    assert response.json() == EXPECTED_401
    message = refusal_logged(caplog)
    assert reason in message
    assert "from 127.0.0.1" in message
    assert client_a.key not in message


def test_the_401_bodies_are_byte_for_byte_identical(client, client_a: Persona) -> None:
    bodies = set()
    for header in [b64(f"nobody:{client_a.key}"), b64(f"idm:{'0' * 64}"), "%%%", ""]:
        bodies.add(client.get(POLL, HTTP_X_API_KEY=header).content)
    client_set_enabled(client=client_a.client, enabled=False, actor=Actor.system("test"))
    bodies.add(client.get(POLL, **client_a.headers).content)
    assert len(bodies) == 1


def test_a_forged_client_id_cannot_write_its_own_log_line(
    client, client_a: Persona, caplog: pytest.LogCaptureFixture
) -> None:
    forged = "x\n2026-01-01 INFO hermod.auth admin signed in"
    with caplog.at_level(logging.WARNING, logger="hermod.auth"):
        client.get(POLL, HTTP_X_API_KEY=b64(f"{forged}:{client_a.key}"))
    message = refusal_logged(caplog)
    assert "\n" not in message
    assert "unknown client 'x\\n2026" in message


def test_a_flood_of_bad_keys_logs_at_most_the_failure_budget(
    client, client_a: Persona, caplog: pytest.LogCaptureFixture, settings
) -> None:
    settings.HERMOD_RATE_LIMIT_AUTH_FAILURES = 3
    with caplog.at_level(logging.WARNING, logger="hermod.auth"):
        statuses = [client.get(POLL, HTTP_X_API_KEY="%%%").status_code for _ in range(10)]
    assert statuses[:3] == [401, 401, 401]
    assert set(statuses[3:]) == {429}
    assert len([r for r in caplog.records if r.name == "hermod.auth"]) == 3


def test_a_valid_key_logs_nothing(
    client, client_a: Persona, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="hermod.auth"):
        assert client.get(POLL, **client_a.headers).status_code == 404
    assert not [r for r in caplog.records if r.name == "hermod.auth"]


# --- rotation with a grace period --------------------------------------------------------------


def test_both_keys_are_compared_whatever_matches() -> None:
    new, old = api_key_hash("new"), api_key_hash("old")
    assert api_key_check("new", new, old) is KeyMatch.CURRENT
    assert api_key_check("old", new, old) is KeyMatch.PREVIOUS
    assert api_key_check("other", new, old) is KeyMatch.NONE
    assert api_key_check("old", new, None) is KeyMatch.NONE
    assert api_key_check("", None, None) is KeyMatch.NONE


def test_a_rotation_without_grace_stops_the_old_key_at_once(client, client_a: Persona) -> None:
    issued = client_rotate_key(client=client_a.client, actor=Actor.system("test"))
    assert client.get(POLL, **client_a.headers).status_code == 401
    new = {"HTTP_X_API_KEY": issued.api_key_header}
    assert client.get(POLL, **new).status_code == 404
    stored = Client.objects.get(client_id="idm")
    assert stored.previous_key_hash == ""
    assert stored.previous_key_expires_at is None


def test_a_rotation_with_grace_keeps_the_old_key_until_it_ends(
    client, client_a: Persona, caplog: pytest.LogCaptureFixture
) -> None:
    issued = client_rotate_key(
        client=client_a.client, actor=Actor.system("test"), grace=timedelta(hours=2)
    )
    new = {"HTTP_X_API_KEY": issued.api_key_header}
    assert client.get(POLL, **client_a.headers).status_code == 404
    assert client.get(POLL, **new).status_code == 404

    stored = Client.objects.get(client_id="idm")
    assert stored.previous_key_hash == api_key_hash(client_a.key)  # only its keyed hash
    expected_end = timezone.now() + timedelta(hours=2)
    assert abs(stored.previous_key_expires_at - expected_end) < timedelta(seconds=30)
    event = AuditEvent.objects.filter(action="client.rotate_key").latest("id")
    assert event.details["grace_seconds"] == 7200
    assert event.details["old_key_valid_until"] == stored.previous_key_expires_at.isoformat()

    Client.objects.filter(pk=stored.pk).update(
        previous_key_expires_at=timezone.now() - timedelta(seconds=1)
    )
    with caplog.at_level(logging.WARNING, logger="hermod.auth"):
        assert client.get(POLL, **client_a.headers).status_code == 401
    assert "wrong key for client 'idm'" in refusal_logged(caplog)
    assert client.get(POLL, **new).status_code == 404


def test_a_disabled_client_is_refused_with_its_old_key_in_grace(client, client_a: Persona) -> None:
    client_rotate_key(client=client_a.client, actor=Actor.system("test"), grace=timedelta(hours=1))
    client_set_enabled(
        client=Client.objects.get(pk=client_a.client.pk), enabled=False, actor=Actor.system("t")
    )
    assert client.get(POLL, **client_a.headers).status_code == 401


def test_only_the_last_replaced_key_is_kept_and_a_plain_rotation_drops_it(
    client, client_a: Persona
) -> None:
    second = client_rotate_key(
        client=client_a.client, actor=Actor.system("test"), grace=timedelta(hours=1)
    )
    third = client_rotate_key(
        client=second.client, actor=Actor.system("test"), grace=timedelta(hours=1)
    )
    assert client.get(POLL, **client_a.headers).status_code == 401  # two rotations ago
    assert client.get(POLL, HTTP_X_API_KEY=second.api_key_header).status_code == 404
    fourth = client_rotate_key(client=third.client, actor=Actor.system("test"))
    assert client.get(POLL, HTTP_X_API_KEY=third.api_key_header).status_code == 401
    assert client.get(POLL, HTTP_X_API_KEY=fourth.api_key_header).status_code == 404


@pytest.mark.parametrize("grace", [timedelta(seconds=-1), timedelta(days=31)])
def test_a_grace_out_of_range_is_refused_and_nothing_changes(
    client_a: Persona, grace: timedelta
) -> None:
    with pytest.raises(ClientError, match="between 0 and 30 days"):
        client_rotate_key(client=client_a.client, actor=Actor.system("test"), grace=grace)
    stored = Client.objects.get(client_id="idm")
    assert stored.key_hash == api_key_hash(client_a.key)
    assert not AuditEvent.objects.filter(action="client.rotate_key").exists()


def test_hermod_client_rotate_takes_a_grace_period(client, client_a: Persona, capsys) -> None:
    call_command("hermod_client", "rotate", "idm", "--grace", "24h")
    out = capsys.readouterr().out
    assert "The old key stays valid until" in out
    new_header = next(line for line in out.splitlines() if line.startswith("X-Api-Key: "))
    assert client.get(POLL, HTTP_X_API_KEY=new_header.split(": ", 1)[1]).status_code == 404
    assert client.get(POLL, **client_a.headers).status_code == 404
    stored = Client.objects.get(client_id="idm")
    assert stored.previous_key_expires_at - stored.key_rotated_at == timedelta(hours=24)


def test_hermod_client_rotate_refuses_a_bad_duration(client_a: Persona) -> None:
    with pytest.raises(CommandError, match="not a duration: 'soon'"):
        call_command("hermod_client", "rotate", "idm", "--grace", "soon")
    assert Client.objects.get(client_id="idm").key_hash == api_key_hash(client_a.key)
