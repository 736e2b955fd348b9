"""A device's information is checked before it is stored: a provisioning or ping answer whose
``deviceinfo`` is not a flat map of bounded strings answers 422 naming the rule and ends the
command FAILED, as every other answer rejection (docs/PROTOCOL.md §6)."""

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings

from hermod_core.emulator.device import Device
from hermod_core.models import Command, Profile
from tests.factories import Persona
from tests.matchers import PROVISIONED
from tests.seeds import provisioning_command

PREFIX = f"/{settings.HERMOD_API_PREFIX}"
HOSTILE = {"name": {"items": ["x"] * 3}, "model": "Pixel"}


def post_json(client: Any, path: str, body: Any, **extra: Any) -> Any:
    return client.post(path, body, content_type="application/json", **extra)


def enroll(client: Any, persona: Persona, device: Device) -> tuple[dict[str, Any], Any]:
    """Create a provisioning and answer it with ``device``: (created body, answer response)."""
    created = post_json(
        client, f"{PREFIX}/command/provision", provisioning_command(), **persona.headers
    ).json()
    destination = created["destinations"][0]
    token = parse_qs(urlsplit(destination["uri"]).query)["token"][0]
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    path = urlsplit(destination["location"]).path
    message = client.get(path, **bearer).json()
    built = device.build_answer(destination["location"], message)
    answered = post_json(client, path, built.body, **bearer)
    if answered.status_code == 200:
        device.remember(built, answered.json())
    return created, answered


@pytest.mark.django_db
def test_a_provisioning_answer_with_a_nested_deviceinfo_is_refused(
    client: Any, client_a: Persona, tmp_path: Path
) -> None:
    created, answered = enroll(client, client_a, Device(tmp_path / "phone", deviceinfo=HOSTILE))
    assert answered.status_code == 422
    assert answered.json()["error"]["code"] == "DEVICEINFO_INVALID"
    command = Command.objects.get(pk=created["commandId"])
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
    created = post_json(
        client,
        f"{PREFIX}/command/ping",
        {"pingCommand": {"profileid": profile.profile_id, "deviceinfo": "true"}},
        **client_a.headers,
    ).json()
    location = created["destinations"][0]["location"]
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {profile.boxtoken}"}
    message = client.get(urlsplit(location).path, **bearer).json()
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
    created = post_json(
        client,
        f"{PREFIX}/command/ping",
        {"pingCommand": {"profileid": profile.profile_id, "deviceinfo": "true"}},
        **client_a.headers,
    ).json()
    location = created["destinations"][0]["location"]
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {profile.boxtoken}"}
    message = client.get(urlsplit(location).path, **bearer).json()
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
