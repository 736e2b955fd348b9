"""A device's information is checked before it is stored: a provisioning or ping answer whose
``deviceinfo`` is not a flat map of bounded strings answers 422 naming the rule and ends the
command FAILED, as every other answer rejection (docs/PROTOCOL.md §6)."""

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings

from hermod_core.emulator.device import Device
from hermod_core.emulator.state import StoredProfile
from hermod_core.models import Command, Profile
from tests.factories import Persona, device_answer, provision
from tests.matchers import PROVISIONED

PREFIX = f"/{settings.HERMOD_API_PREFIX}"
HOSTILE = {"name": {"items": ["x"] * 3}, "model": "Pixel"}


def post_json(client: Any, path: str, body: Any, **extra: Any) -> Any:
    return client.post(path, body, content_type="application/json", **extra)


def enroll(client: Any, persona: Persona, device: Device) -> tuple[str, Any]:
    """Create a provisioning and answer it with ``device``: (command id, answer response)."""
    provisioning = provision(client, persona)
    built, answered = device_answer(client, device, provisioning)
    if answered.status_code == 200:
        device.remember(built, answered.json())
    return provisioning.command_id, answered


def ask_deviceinfo(
    client: Any, persona: Persona, profile: StoredProfile
) -> tuple[dict[str, Any], str, dict[str, str], dict[str, Any]]:
    """A ping asking ``profile`` for its device information, fetched with its box token:
    (created body, message location, bearer header, message)."""
    created = post_json(
        client,
        f"{PREFIX}/command/ping",
        {"pingCommand": {"profileid": profile.profile_id, "deviceinfo": "true"}},
        **persona.headers,
    ).json()
    location = created["destinations"][0]["location"]
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {profile.boxtoken}"}
    message = client.get(urlsplit(location).path, **bearer).json()
    return created, location, bearer, message


@pytest.mark.django_db
def test_a_provisioning_answer_with_a_nested_deviceinfo_is_refused(
    client: Any, client_a: Persona, tmp_path: Path
) -> None:
    command_id, answered = enroll(client, client_a, Device(tmp_path / "phone", deviceinfo=HOSTILE))
    assert answered.status_code == 422
    assert answered.json()["error"]["code"] == "DEVICEINFO_INVALID"
    command = Command.objects.get(pk=command_id)
    assert (command.state, command.failure_code) == ("FAILED", "DEVICEINFO_INVALID")
    assert not Profile.objects.exists()


@pytest.mark.django_db
def test_a_ping_answer_with_a_nested_deviceinfo_is_refused_and_nothing_is_stored(
    client: Any, client_a: Persona, tmp_path: Path
) -> None:
    device = Device(tmp_path / "phone")
    _, answered = enroll(client, client_a, device)
    assert answered.json() == PROVISIONED
    profile = device.profiles[0]
    stored = Profile.objects.get(pk=profile.profile_id).device_info
    created, location, bearer, message = ask_deviceinfo(client, client_a, profile)
    device.deviceinfo = HOSTILE
    built = device.build_answer(location, message)
    answered = post_json(client, urlsplit(location).path, built.body, **bearer)
    assert answered.status_code == 422
    assert answered.json()["error"]["code"] == "DEVICEINFO_INVALID"
    command = Command.objects.get(pk=created["commandId"])
    assert (command.state, command.failure_code) == ("FAILED", "DEVICEINFO_INVALID")
    assert Profile.objects.get(pk=profile.profile_id).device_info == stored


@pytest.mark.django_db
def test_a_ping_answer_with_flat_deviceinfo_is_stored_as_strings(
    client: Any, client_a: Persona, tmp_path: Path
) -> None:
    device = Device(tmp_path / "phone")
    enroll(client, client_a, device)
    profile = device.profiles[0]
    _, location, bearer, message = ask_deviceinfo(client, client_a, profile)
    device.deviceinfo = {"name": "Pixel", "build": 22631, "items": "x"}  # type: ignore[dict-item]
    answered = post_json(
        client, urlsplit(location).path, device.build_answer(location, message).body, **bearer
    )
    assert answered.json() == {"state": "COMPLETED"}
    assert Profile.objects.get(pk=profile.profile_id).device_info == {
        "name": "Pixel",
        "build": "22631",
        "items": "x",
    }
