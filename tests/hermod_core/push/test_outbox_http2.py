"""The push outbox through the real FCM and APNs clients, against their protocol-faithful local
HTTP/2 endpoints (tests/push_endpoints.py): the registry's wiring, the notice as sent, and a
token the provider calls dead removing the registration."""

import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from hermod_core.models import Mailbox, PushDelivery, PushRegistration
from hermod_core.protocol.commands import parse_command_request
from hermod_core.services.audit import Actor
from hermod_core.services.commands import command_create
from hermod_core.services.credentials import box_token_generate, token_hash
from hermod_core.services.push import (
    PushSettingsChange,
    push_deliver,
    push_register,
    push_settings_set,
)
from tests.factories import make_profile
from tests.hermod_core.push.conftest import APNS_TOKEN, FCM_TOKEN

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock() -> Any:
    """The endpoints on real time: the outbox builds its clients with the real clock."""
    return time.time


@pytest.fixture
def trusted(settings: Any, ca: str, tmp_path: Path) -> None:
    """The endpoints' test CA trusted as an operator would: HERMOD_CALLBACK_CA_DIR."""
    folder = tmp_path / "cacerts"
    folder.mkdir()
    shutil.copy(ca, folder / "push-test-ca.pem")
    settings.HERMOD_CALLBACK_CA_DIR = folder


def registered(client: Any, body: dict[str, str]) -> Any:
    profile = make_profile(client)
    boxtoken = box_token_generate()
    box = Mailbox.objects.get(profile=profile)
    Mailbox.objects.filter(pk=box.pk).update(token_hash=token_hash(boxtoken))
    push_register(bid=box.pk, token=boxtoken, raw=body)
    return profile


def auth(client: Any, profile: Any) -> PushDelivery:
    command_create(
        client=client,
        request=parse_command_request(
            "authenticate", {"authCommand": {"profileid": str(profile.pk)}}
        ),
    )
    return PushDelivery.objects.get(profile=profile)


def test_fcm_through_the_outbox_then_an_unregistered_token(
    client_a, fcm_endpoint, trusted, settings
) -> None:
    settings.HERMOD_PUSH_FCM_URL = fcm_endpoint.url
    push_settings_set(
        group=client_a.client.group,
        change=PushSettingsChange(fcm_service_account=fcm_endpoint.service_account_json()),
        actor=Actor.system("t"),
    )
    profile = registered(client_a.client, {"provider": "fcm", "token": FCM_TOKEN, "os": "android"})
    push = auth(client_a.client, profile)
    assert push_deliver(push_id=push.pk) == "DELIVERED"
    (sent,) = fcm_endpoint.send_requests()
    message = sent.json()["message"]
    assert message["token"] == FCM_TOKEN
    assert message["data"]["pushId"] == str(profile.pk)
    assert message["data"]["type"] == "AUTH"
    fcm_endpoint.unregister(FCM_TOKEN)
    second = command_create(
        client=client_a.client,
        request=parse_command_request("ping", {"pingCommand": {"profileid": str(profile.pk)}}),
    )
    later = PushDelivery.objects.get(message__command=second)
    assert push_deliver(push_id=later.pk) == "UNREGISTERED"
    assert not PushRegistration.objects.filter(profile=profile).exists()


def test_apns_through_the_outbox_with_the_groups_key_and_topic(
    client_a, apns_endpoint, trusted, settings
) -> None:
    settings.HERMOD_PUSH_APNS_URL = apns_endpoint.url
    push_settings_set(
        group=client_a.client.group,
        change=PushSettingsChange(
            apns_key=apns_endpoint.key_p8, apns_key_id=apns_endpoint.key_id,
            apns_team_id=apns_endpoint.team_id, apns_topic=apns_endpoint.topic,
        ),
        actor=Actor.system("t"),
    )  # fmt: skip
    profile = registered(client_a.client, {"provider": "apns", "token": APNS_TOKEN, "os": "ios"})
    push = auth(client_a.client, profile)
    assert push_deliver(push_id=push.pk) == "DELIVERED"
    (sent,) = apns_endpoint.wait_for(1)
    assert sent.path == f"/3/device/{APNS_TOKEN}"
    body = sent.json()
    assert (body["pushId"], body["type"]) == (str(profile.pk), "AUTH")
    assert body["messageId"] == str(push.message_id)
