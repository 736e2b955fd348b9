"""Smart-card admin keys (docs/PROTOCOL.md §5.1, §5.4): the device gets them while the command is in
progress; no API answer, callback or console page shows them; a final command no longer stores
them, whichever way it ended."""

from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.utils import timezone

from hermod_core.emulator.device import Device
from hermod_core.lifecycle import State
from hermod_core.models import CallbackDelivery, Command
from hermod_core.services.commands import command_transition
from hermod_core.services.expiry import commands_expire
from tests.factories import Persona, make_profile
from tests.matchers import PROVISIONED
from tests.seeds import provisioning_command

pytestmark = pytest.mark.django_db
PREFIX = f"/{settings.HERMOD_API_PREFIX}"
KEY, OLD, NEW = "a1" * 24, "b2" * 24, "c3" * 24


def post_json(client: Any, path: str, body: Any, **extra: Any) -> Any:
    return client.post(path, body, content_type="application/json", **extra)


def provision_with_admin_keys(client: Any, persona: Persona) -> dict[str, Any]:
    body = provisioning_command()
    body["provCommand"]["vscinfo"] = {"smartcardid": "card-1", "adminkey": KEY, "oldadminkey": OLD}
    created = post_json(client, f"{PREFIX}/command/provision", body, **persona.headers)
    assert created.status_code == 200, created.content
    return dict(created.json())


def fetch(client: Any, destination: dict[str, Any]) -> dict[str, Any]:
    token = parse_qs(urlsplit(destination["uri"]).query)["token"][0]
    path = urlsplit(destination["location"]).path
    return dict(client.get(path, HTTP_AUTHORIZATION=f"Bearer {token}").json())


def stored_body(command_id: Any) -> dict[str, Any]:
    return dict(Command.objects.get(pk=command_id).body)


def test_the_device_receives_the_admin_keys_while_the_command_is_in_progress(
    client: Any, client_a: Persona
) -> None:
    created = provision_with_admin_keys(client, client_a)
    message = fetch(client, created["destinations"][0])
    assert message["provCommand"]["vscinfo"] == {
        "smartcardid": "card-1",
        "adminkey": KEY,
        "oldadminkey": OLD,
    }
    assert KEY not in str(created)


@pytest.mark.parametrize("end", ["cancel", "fail", "expire"])
def test_a_final_provisioning_no_longer_stores_its_admin_keys(
    client: Any, client_a: Persona, end: str
) -> None:
    created = provision_with_admin_keys(client, client_a)
    command_id = int(created["commandId"])
    if end == "cancel":
        response = client.post(f"{PREFIX}/command/cancel/{command_id}", **client_a.headers)
        assert response.status_code == 200
    elif end == "fail":
        assert command_transition(command_id=command_id, to=State.FAILED, failure_code="X")
    else:
        Command.objects.filter(pk=command_id).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
        assert commands_expire(batch=10) == 1
    body = stored_body(command_id)
    assert body["vscinfo"] == {"smartcardid": "card-1"}
    assert body["userid"] == provisioning_command()["provCommand"]["userid"]  # the rest is kept
    polled = client.get(f"{PREFIX}/command/poll/{command_id}", **client_a.headers)
    assert KEY not in polled.content.decode()
    callback = CallbackDelivery.objects.get(command_id=command_id).body
    assert KEY not in str(callback)
    assert OLD not in str(callback)


def test_delete_and_endpinreset_forget_their_admin_keys_once_final(
    client: Any, client_a: Persona
) -> None:
    profile = make_profile(client_a.client, "bob")
    delete = post_json(
        client,
        f"{PREFIX}/command/delete",
        {
            "deleteCommand": {
                "profileid": str(profile.pk),
                "vscinfo": {"smartcardid": "card-1", "adminkey": KEY, "oldadminkey": OLD},
            }
        },
        **client_a.headers,
    ).json()
    epin = post_json(
        client,
        f"{PREFIX}/command/endpinreset",
        {
            "epinCommand": {
                "profileid": str(profile.pk),
                "smartcardid": "card-1",
                "encryptednonce": "00ff",
                "newadminkey": NEW,
            }
        },
        **client_a.headers,
    ).json()
    assert stored_body(epin["commandId"])["newadminkey"] == NEW  # in progress: kept for the device
    Command.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert commands_expire(batch=10) == 2  # one batch: both in one transition
    assert stored_body(delete["commandId"])["vscinfo"] == {"smartcardid": "card-1"}
    assert stored_body(epin["commandId"]) == {
        "profileid": str(profile.pk),
        "smartcardid": "card-1",
        "encryptednonce": "00ff",
    }


def test_a_completed_provisioning_no_longer_stores_its_admin_keys(
    client: Any, client_a: Persona, tmp_path: Any
) -> None:
    created = provision_with_admin_keys(client, client_a)
    destination = created["destinations"][0]
    message = fetch(client, destination)
    answer = Device(tmp_path / "pc").build_answer(destination["location"], message).body
    token = parse_qs(urlsplit(destination["uri"]).query)["token"][0]
    answered = post_json(
        client,
        urlsplit(destination["location"]).path,
        answer,
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert answered.json() == PROVISIONED
    assert stored_body(created["commandId"])["vscinfo"] == {"smartcardid": "card-1"}
