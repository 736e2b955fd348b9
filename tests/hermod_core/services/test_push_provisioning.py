"""``deviceinfo.push`` in a provisioning answer (docs/PROTOCOL.md §14): registered with the new
profile when valid and served by the group; otherwise ignored, never a reason to refuse."""

from pathlib import Path
from typing import Any

import pytest

from hermod_core.emulator.device import Device
from hermod_core.emulator.push import WebPushReceiver
from hermod_core.models import Profile, PushRegistration
from hermod_core.services.audit import Actor
from hermod_core.services.push import PushSettingsChange, push_settings_set
from tests import factories
from tests.factories import Persona
from tests.matchers import PROVISIONED

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _http_endpoints(settings: Any) -> None:
    settings.HERMOD_PUSH_ALLOW_HTTP = True


def provision(client: Any, persona: Persona, device: Device) -> Any:
    _, answered = factories.device_answer(client, device, factories.provision(client, persona))
    return answered


def test_a_valid_deviceinfo_push_registers_with_the_new_profile(
    client, client_a, tmp_path: Path
) -> None:
    push_settings_set(
        group=client_a.client.group,
        change=PushSettingsChange(webpush_enabled=True),
        actor=Actor.system("t"),
    )
    device = Device(tmp_path / "phone")
    device.deviceinfo = {**device.deviceinfo, "push": WebPushReceiver(port=9).registration()}  # type: ignore[dict-item]
    answered = provision(client, client_a, device)
    assert answered.json() == PROVISIONED
    (registration,) = PushRegistration.objects.all()
    assert registration.provider == "webpush"
    assert "push" not in Profile.objects.get(pk=registration.profile_id).device_info


@pytest.mark.parametrize(
    "push",
    [
        {"provider": "fcm", "token": "t", "os": "android"},  # not configured by the group
        {"provider": "webpush", "token": "https://x.example/p", "os": "linux"},  # no keys
        "not an object",
    ],
)
def test_an_unusable_deviceinfo_push_is_ignored_and_the_provisioning_completes(
    client, client_a, tmp_path: Path, push: Any
) -> None:
    push_settings_set(
        group=client_a.client.group,
        change=PushSettingsChange(webpush_enabled=True),
        actor=Actor.system("t"),
    )
    device = Device(tmp_path / "phone")
    device.deviceinfo = {**device.deviceinfo, "push": push}  # type: ignore[dict-item]
    assert provision(client, client_a, device).json() == PROVISIONED
    assert Profile.objects.count() == 1
    assert not PushRegistration.objects.exists()
