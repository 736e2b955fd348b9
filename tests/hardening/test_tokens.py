"""Device tokens as an attacker sees them (issue 10, item 2; docs/PROTOCOL.md §6).

Tokens are random: knowing the server secret and every public id opens nothing. The permanent
box token reaches only the device whose provisioning answer was accepted; a second scanner of the
same QR code gets nothing durable. A device rotates its token; an admin revokes it; either ends
the old token's access at once. The database holds no token in the clear.
"""

import base64
import hashlib
import hmac
import importlib
import uuid
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.conf import settings
from django.contrib.auth.models import Group as AuthGroup
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client as HttpClient

from hermod_core.models import AuditEvent, Mailbox, MailboxKind, Message
from portal.roles import ADMIN_GROUP, OPERATOR_GROUP
from tests.api_client import Api, path_of, token_of
from tests.matchers import PROVISIONED
from tests.seeds import provisioning_command

pytestmark = pytest.mark.django_db


def _derived(purpose: str, value: str) -> bytes:
    """What the old server computed its tokens from: the secret and an id."""
    key = settings.HERMOD_KEY_HASH_SECRET.encode()
    return hmac.new(key, f"{purpose}:{value}".encode(), hashlib.sha256).digest()


def _get(client: HttpClient, path: str, token: str) -> Any:
    return client.get(path, headers={"Authorization": f"Bearer {token}"})


def _provisioned(api_a: Api, make_device) -> tuple[Any, dict[str, Any]]:
    created = api_a.create("provision", provisioning_command())
    device = make_device()
    assert device.enroll(created["destinations"][0]["uri"]).body == PROVISIONED
    return device, created


def test_whoever_knows_the_secret_and_the_ids_computes_no_token_that_opens_a_box(
    client, api_a: Api, make_device
) -> None:
    device, _ = _provisioned(api_a, make_device)
    waiting = api_a.create("provision", provisioning_command())["destinations"][0]
    profile = device.profiles[0]
    box = Mailbox.objects.get(kind=MailboxKind.PERMANENT)
    # The old derivations, with the real secret: a one-time token from the message id, the box
    # token from the box id.
    message_guess = str(uuid.UUID(bytes=_derived("message-token", waiting["mid"])[:16], version=4))
    box_guess = base64.urlsafe_b64encode(_derived("box-token", str(box.pk))).rstrip(b"=").decode()
    assert token_of(waiting) != message_guess
    assert profile.boxtoken != box_guess
    assert _get(client, path_of(waiting["location"]), message_guess).status_code == 404
    assert _get(client, path_of(profile.boxurl), box_guess).status_code == 404
    # The honest tokens do open them.
    assert _get(client, path_of(waiting["location"]), token_of(waiting)).status_code == 200
    assert _get(client, path_of(profile.boxurl), profile.boxtoken).status_code == 200


def test_one_time_tokens_are_random_with_at_least_128_bits_and_spelled_as_uuids(
    api_a: Api,
) -> None:
    tokens = {
        token_of(api_a.create("provision", provisioning_command())["destinations"][0])
        for _ in range(20)
    }
    assert len(tokens) == 20
    for token in tokens:
        assert str(uuid.UUID(token)) == token  # the seed's shape (8-4-4-4-12 hex)
    # Every bit is random: the version nibble is not fixed at 4 across twenty tokens.
    assert len({token[14] for token in tokens}) > 1


def test_the_provisioning_message_carries_no_box_token(client, api_a: Api) -> None:
    waiting = api_a.create("provision", provisioning_command())["destinations"][0]
    message = _get(client, path_of(waiting["location"]), token_of(waiting)).json()
    assert set(message["assigned"]) == {"profileid", "boxurl"}
    assert "boxtoken" not in str(message)


def test_a_second_scanner_of_the_same_qr_code_gets_nothing_durable(
    client, api_a: Api, make_device
) -> None:
    waiting = api_a.create("provision", provisioning_command())["destinations"][0]
    # The attacker scans the code too and reads the message before the user answers.
    stolen = _get(client, path_of(waiting["location"]), token_of(waiting)).json()
    boxurl = stolen["assigned"]["boxurl"]
    user = make_device("user")
    assert user.enroll(waiting["uri"]).body == PROVISIONED
    # Nothing the attacker saw opens the permanent box; the one-time token is dead.
    assert _get(client, path_of(boxurl), token_of(waiting)).status_code == 404
    assert _get(client, path_of(waiting["location"]), token_of(waiting)).status_code == 404
    # An answer of its own now gets nothing either (the message is answered: 409, no token).
    attacker = make_device("attacker")
    late = attacker.answer(waiting["location"], token_of(waiting), stolen)
    assert late.http_status == 409
    assert "boxtoken" not in late.body
    assert _get(client, path_of(boxurl), user.profiles[0].boxtoken).status_code == 200


def test_no_token_is_stored_in_the_clear(client, api_a: Api, make_device) -> None:
    device, created = _provisioned(api_a, make_device)
    waiting = api_a.create("provision", provisioning_command())["destinations"][0]
    secrets = [token_of(created["destinations"][0]), token_of(waiting), device.profiles[0].boxtoken]
    with connection.cursor() as cursor:
        cursor.execute("SELECT token_hash, token_sealed FROM hermod_message")
        message_rows = cursor.fetchall()
        cursor.execute("SELECT token_hash FROM hermod_mailbox")
        box_rows = cursor.fetchall()
    stored = repr(message_rows + box_rows)
    assert not any(secret in stored for secret in secrets)
    # Poll still shows the plug-out URI, from the sealed copy.
    assert api_a.poll(waiting_id(waiting, api_a))["destinations"][0]["uri"] == waiting["uri"]


def waiting_id(destination: dict[str, Any], api: Api) -> str:
    return str(Message.objects.get(pk=destination["mid"]).command_id)


def test_a_device_rotates_its_box_token_and_the_old_one_dies_at_once(
    client, api_a: Api, make_device
) -> None:
    device, _ = _provisioned(api_a, make_device)
    profile = device.profiles[0]
    old = profile.boxtoken
    new = device.rotate_box_token(profile.profile_id)
    assert new != old
    assert device.profiles[0].boxtoken == new
    assert _get(client, path_of(profile.boxurl), old).status_code == 404
    assert _get(client, path_of(profile.boxurl), new).status_code == 200
    # The old token cannot rotate again (nor steal the new one).
    rotated = client.post(
        f"{path_of(profile.boxurl)}/token", headers={"Authorization": f"Bearer {old}"}
    )
    assert rotated.status_code == 404


def test_a_one_time_token_cannot_rotate_into_a_box_token(client, api_a: Api) -> None:
    waiting = api_a.create("provision", provisioning_command())["destinations"][0]
    box = path_of(waiting["location"]).rsplit("/", 1)[0]
    answer = client.post(f"{box}/token", headers={"Authorization": f"Bearer {token_of(waiting)}"})
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "NOT_FOUND"


def _console(username: str, role: str) -> HttpClient:
    user = User.objects.create_user(username=username, password="unused-password-1234")
    user.groups.add(AuthGroup.objects.get_or_create(name=role)[0])
    http = HttpClient()
    http.force_login(user)
    return http


def test_an_admin_revokes_a_box_token_and_the_device_is_refused_at_once(
    client, api_a: Api, make_device
) -> None:
    admin, operator = _console("admin", ADMIN_GROUP), _console("oscar", OPERATOR_GROUP)
    device, _ = _provisioned(api_a, make_device)
    profile = device.profiles[0]
    page = f"/console/profiles/{profile.profile_id}/"
    assert "Revoke box token" in admin.get(page).content.decode()
    assert operator.post(f"{page}revoke-box-token").status_code == 403
    assert _get(client, path_of(profile.boxurl), profile.boxtoken).status_code == 200

    assert admin.post(f"{page}revoke-box-token").status_code == 302
    assert _get(client, path_of(profile.boxurl), profile.boxtoken).status_code == 404
    assert device.run_once() == []  # the app finds its box closed, nothing is answered
    event = AuditEvent.objects.get(action="profile.revoke_box_token")
    assert (event.actor, event.target_id) == ("admin", profile.profile_id)
    assert "revoked" in admin.get(page).content.decode()


def test_open_messages_of_the_previous_release_keep_their_tokens_after_the_migration(
    client, api_a: Api
) -> None:
    """Migration 0004: a message created before it (token derived from its id, no sealed copy)
    still opens its box with the token its QR code holds, and poll shows the same URI."""
    migration = importlib.import_module("hermod_core.migrations.0004_random_tokens")
    waiting = api_a.create("provision", provisioning_command())["destinations"][0]
    old_token = str(uuid.UUID(bytes=_derived("message-token", waiting["mid"])[:16], version=4))
    Message.objects.filter(pk=waiting["mid"]).update(
        token_hash=hmac.new(
            settings.HERMOD_KEY_HASH_SECRET.encode(), f"token:{old_token}".encode(), hashlib.sha256
        ).hexdigest(),
        token_sealed="",
    )
    migration.seal_existing_tokens(django_apps, None)
    assert _get(client, path_of(waiting["location"]), old_token).status_code == 200
    polled = api_a.poll(waiting_id(waiting, api_a))["destinations"][0]
    assert token_of(polled) == old_token
