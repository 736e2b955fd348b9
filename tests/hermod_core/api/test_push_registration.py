"""``PUT``/``DELETE /ms/{bid}/push`` (docs/PROTOCOL.md §14): the attacker's cases first."""

import json
from typing import Any

import pytest
from django.conf import settings

from hermod_core.emulator.push import WebPushReceiver
from hermod_core.models import AuditEvent, GroupPushSettings, Mailbox, Message, PushRegistration
from hermod_core.protocol.commands import parse_command_request
from hermod_core.services.audit import Actor
from hermod_core.services.commands import command_create
from hermod_core.services.credentials import MESSAGE_TOKEN, box_token_generate, token_hash, unseal
from hermod_core.services.push import PushSettingsChange, push_settings_set
from tests.factories import make_profile
from tests.openapi import assert_conforms, generate

pytestmark = pytest.mark.django_db
PREFIX = f"/{settings.HERMOD_API_PREFIX}"


@pytest.fixture(autouse=True)
def _http_endpoints(settings: Any) -> None:
    settings.HERMOD_PUSH_ALLOW_HTTP = True


@pytest.fixture
def phone(client_a) -> dict[str, Any]:
    """A provisioned profile of client A's group with its box token; the group has Web Push."""
    profile = make_profile(client_a.client)
    boxtoken = box_token_generate()
    box = Mailbox.objects.get(profile=profile)
    Mailbox.objects.filter(pk=box.pk).update(token_hash=token_hash(boxtoken))
    config = push_settings_set(
        group=client_a.client.group,
        change=PushSettingsChange(webpush_enabled=True),
        actor=Actor.system("t"),
    )
    return {"profile": profile, "box": box, "boxtoken": boxtoken, "config": config}


def put(client: Any, bid: object, body: Any, token: str | None) -> Any:
    extra = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return client.put(
        f"{PREFIX}/ms/{bid}/push", json.dumps(body), content_type="application/json", **extra
    )


def registration() -> dict[str, str]:
    return WebPushReceiver(port=8443).registration("android")


def test_a_device_registers_its_web_push_subscription_with_its_box_token(client, phone) -> None:
    body = registration()
    answer = put(client, phone["box"].pk, body, phone["boxtoken"])
    assert answer.status_code == 200, answer.content
    data = answer.json()
    assert data["provider"] == "webpush"
    assert data["os"] == "android"
    assert data["vapidPublicKey"] == phone["config"].vapid_public
    stored = PushRegistration.objects.get(profile=phone["profile"])
    assert stored.fingerprint == data["fingerprint"]
    # The subscription's auth secret and endpoint are sealed, never in the clear.
    assert body["auth"] not in stored.token_sealed
    assert body["token"] not in stored.token_sealed


def test_a_new_registration_replaces_the_old_one(client, phone) -> None:
    first = put(client, phone["box"].pk, registration(), phone["boxtoken"]).json()
    second = put(client, phone["box"].pk, registration(), phone["boxtoken"]).json()
    assert first["fingerprint"] != second["fingerprint"]
    assert PushRegistration.objects.filter(profile=phone["profile"]).count() == 1
    assert PushRegistration.objects.get().fingerprint == second["fingerprint"]


def test_delete_removes_the_registration(client, phone) -> None:
    put(client, phone["box"].pk, registration(), phone["boxtoken"])
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {phone['boxtoken']}"}
    assert client.delete(f"{PREFIX}/ms/{phone['box'].pk}/push", **bearer).status_code == 204
    assert not PushRegistration.objects.exists()
    assert client.delete(f"{PREFIX}/ms/{phone['box'].pk}/push", **bearer).status_code == 204


@pytest.mark.parametrize("token", [None, "wrong", "x" * 300])
def test_no_or_a_wrong_box_token_is_the_404_of_an_unknown_box(client, phone, token) -> None:
    answer = put(client, phone["box"].pk, registration(), token)
    assert answer.status_code == 404
    assert answer.json() == {"error": {"code": "NOT_FOUND", "message": "No such box or message."}}
    assert not PushRegistration.objects.exists()
    unknown = put(client, "not-a-uuid", registration(), phone["boxtoken"])
    assert unknown.json() == answer.json()


def test_another_groups_box_token_does_not_open_this_box(client, phone, client_b) -> None:
    other = make_profile(client_b.client, "mallory")
    other_token = box_token_generate()
    Mailbox.objects.filter(profile=other).update(token_hash=token_hash(other_token))
    assert put(client, phone["box"].pk, registration(), other_token).status_code == 404
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {other_token}"}
    assert client.delete(f"{PREFIX}/ms/{phone['box'].pk}/push", **bearer).status_code == 404
    assert not PushRegistration.objects.exists()


def test_a_one_time_message_token_cannot_choose_where_pushes_go(client, phone, client_a) -> None:
    """Whoever saw a QR code holds its one-time token: it must not redirect the pushes."""
    command = command_create(
        client=client_a.client,
        request=parse_command_request(
            "ping", {"pingCommand": {"profileid": str(phone["profile"].pk)}}
        ),
    )
    message = Message.objects.get(command=command)
    one_time = unseal(MESSAGE_TOKEN, message.token_sealed)
    assert put(client, phone["box"].pk, registration(), one_time).status_code == 404


def test_a_revoked_box_token_no_longer_registers(client, phone) -> None:
    Mailbox.objects.filter(pk=phone["box"].pk).update(token_hash="")
    assert put(client, phone["box"].pk, registration(), phone["boxtoken"]).status_code == 404


def test_a_provider_the_group_has_not_configured_is_a_422_storing_nothing(client, phone) -> None:
    body = {"provider": "fcm", "token": "fcm-registration-token", "os": "android"}
    answer = put(client, phone["box"].pk, body, phone["boxtoken"])
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "PUSH_PROVIDER_NOT_CONFIGURED"
    assert answer.json()["error"]["field"] == "provider"
    assert not PushRegistration.objects.exists()


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"provider": None}, "MISSING_FIELD", "provider"),
        ({"provider": "sms"}, "INVALID_FIELD", "provider"),
        ({"os": None}, "MISSING_FIELD", "os"),
        ({"os": "ios; drop table"}, "INVALID_FIELD", "os"),
        ({"token": 42}, "INVALID_FIELD", "token"),
        ({"token": "ftp://push.example/x"}, "INVALID_FIELD", "token"),
        ({"p256dh": None}, "MISSING_FIELD", "p256dh"),
        ({"p256dh": "AAAA"}, "INVALID_FIELD", "p256dh"),
        ({"auth": "not base64 !"}, "INVALID_FIELD", "auth"),
    ],
)
def test_each_malformed_member_is_a_400_naming_it(client, phone, change, code, field) -> None:
    body = {**registration(), **change}
    body = {k: v for k, v in body.items() if v is not None}
    answer = put(client, phone["box"].pk, body, phone["boxtoken"])
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == code
    assert answer.json()["error"]["field"] == field
    assert not PushRegistration.objects.exists()


def test_a_plain_http_endpoint_is_refused_unless_allowed(client, phone, settings) -> None:
    settings.HERMOD_PUSH_ALLOW_HTTP = False
    answer = put(client, phone["box"].pk, registration(), phone["boxtoken"])
    assert answer.status_code == 400
    assert answer.json()["error"]["field"] == "token"


def test_a_body_that_is_not_json_is_a_400(client, phone) -> None:
    answer = client.put(
        f"{PREFIX}/ms/{phone['box'].pk}/push",
        "{nope",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {phone['boxtoken']}",
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "INVALID_JSON"


def test_an_apns_token_must_be_hex(client, phone) -> None:
    body = {"provider": "apns", "token": "zz" * 32, "os": "ios"}
    answer = put(client, phone["box"].pk, body, phone["boxtoken"])
    assert answer.status_code == 400
    assert answer.json()["error"]["field"] == "token"


def test_settings_changes_are_audited_without_their_secrets(phone) -> None:
    push_settings_set(
        group=phone["profile"].group,
        change=PushSettingsChange(
            relay_url="https://notify.example.com/push",
            relay_auth="bearer",
            relay_credential="very-secret-bearer",
        ),
        actor=Actor.system("admin"),
    )
    events = AuditEvent.objects.filter(action="group.push_settings")
    assert "relay_credential" in events.order_by("id").last().details["changed"]
    assert all("very-secret-bearer" not in json.dumps(e.details) for e in events)
    stored = GroupPushSettings.objects.get(group=phone["profile"].group)
    assert stored.providers() == {"relay", "webpush"}
    assert "very-secret-bearer" not in stored.relay_credential_sealed


def test_the_push_answers_conform_to_the_document(client, phone) -> None:
    document = generate()
    ok = put(client, phone["box"].pk, registration(), phone["boxtoken"])
    assert_conforms(document, "put", "/ms/{bid}/push", ok)
    bad = put(client, phone["box"].pk, {**registration(), "p256dh": "AAAA"}, phone["boxtoken"])
    assert_conforms(document, "put", "/ms/{bid}/push", bad)
    refused = put(client, phone["box"].pk, {"provider": "apns", "token": "ab" * 32, "os": "ios"},
                  phone["boxtoken"])  # fmt: skip
    assert_conforms(document, "put", "/ms/{bid}/push", refused)
    missing = put(client, phone["box"].pk, registration(), "wrong")
    assert_conforms(document, "put", "/ms/{bid}/push", missing)
