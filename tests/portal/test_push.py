"""Push in the console: group settings with write-only secrets, a profile's registration and its
removal, the push deliveries list; admin-only changes, CSRF, audit."""

import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
)
from django.urls import reverse

from hermod_core.models import (
    AuditEvent,
    GroupPushSettings,
    Mailbox,
    PushDelivery,
    PushRegistration,
    PushState,
)
from hermod_core.protocol.commands import parse_command_request
from hermod_core.push.providers import PUSH_SECRET
from hermod_core.services.audit import Actor
from hermod_core.services.commands import command_create
from hermod_core.services.credentials import seal
from hermod_core.services.push import PushSettingsChange, push_settings_set
from tests.factories import make_profile

pytestmark = pytest.mark.django_db


def p8() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()


def settings_form(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "requestor": "Example Bank",
        "relay_url": "https://notify.example.com/push",
        "relay_auth": "bearer",
        "relay_credential": "relay-bearer-secret",
        "webpush_enabled": "on",
        "apns_key": p8(),
        "apns_key_id": "ABC123DEFG",
        "apns_team_id": "TEAM123456",
        "apns_topic": "com.example.authenticator",
    }
    data.update(overrides)
    return data


def test_an_admin_sets_push_and_secrets_are_never_shown_back(admin, client_a) -> None:
    form = settings_form()
    response = admin.post(reverse("portal:group_push_save", args=["smartid"]), form)
    assert response.status_code == 302
    config = GroupPushSettings.objects.get(group__name="smartid")
    assert config.providers() == {"relay", "webpush", "apns"}
    page = admin.get(reverse("portal:group", args=["smartid"])).content.decode()
    assert "relay-bearer-secret" not in page
    assert str(form["apns_key"]).splitlines()[1] not in page
    assert config.vapid_public in page
    event = AuditEvent.objects.get(action="group.push_settings")
    assert event.actor_user is not None
    assert "relay-bearer-secret" not in json.dumps(event.details)
    # A blank secret keeps the stored one.
    admin.post(
        reverse("portal:group_push_save", args=["smartid"]),
        settings_form(relay_credential="", apns_key=""),
    )
    kept = GroupPushSettings.objects.get(pk=config.pk)
    assert kept.relay_credential_sealed == config.relay_credential_sealed
    assert kept.apns_key_sealed == config.apns_key_sealed


def test_a_broken_setting_is_a_400_naming_it_and_nothing_changes(admin, client_a) -> None:
    response = admin.post(
        reverse("portal:group_push_save", args=["smartid"]),
        settings_form(apns_key="not a key"),
    )
    assert response.status_code == 400
    assert "PEM" in response.content.decode()
    assert not GroupPushSettings.objects.filter(group__name="smartid").exists()


def test_an_operator_cannot_change_push_settings(operator, client_a) -> None:
    response = operator.post(reverse("portal:group_push_save", args=["smartid"]), settings_form())
    assert response.status_code == 403
    assert not GroupPushSettings.objects.exists()


def test_push_settings_need_the_csrf_token(admin_csrf, client_a) -> None:
    response = admin_csrf.post(reverse("portal:group_push_save", args=["smartid"]), settings_form())
    assert response.status_code == 403
    assert not GroupPushSettings.objects.exists()


def registered(profile) -> PushRegistration:
    return PushRegistration.objects.create(
        profile=profile,
        provider="fcm",
        token_sealed=seal(PUSH_SECRET, "fcm-token-secret"),
        fingerprint="0123456789ab",
        os="android",
    )


def test_the_profile_page_shows_the_registration_and_an_admin_removes_it(admin, client_a) -> None:
    profile = make_profile(client_a.client)
    registered(profile)
    page = admin.get(reverse("portal:profile", args=[profile.pk])).content.decode()
    assert "fcm" in page
    assert "0123456789ab" in page
    assert "fcm-token-secret" not in page
    response = admin.post(reverse("portal:profile_push_remove", args=[profile.pk]))
    assert response.status_code == 302
    assert not PushRegistration.objects.exists()
    assert AuditEvent.objects.filter(action="profile.remove_push").count() == 1


def test_an_operator_cannot_remove_a_registration(operator, client_a) -> None:
    profile = make_profile(client_a.client)
    registered(profile)
    response = operator.post(reverse("portal:profile_push_remove", args=[profile.pk]))
    assert response.status_code == 403
    assert PushRegistration.objects.exists()


def test_the_push_list_shows_state_attempts_and_last_error(
    operator, client_a, django_assert_max_num_queries
) -> None:
    profile = make_profile(client_a.client)
    push_settings_set(
        group=profile.group,
        change=PushSettingsChange(relay_url="https://notify.example.com/push"),
        actor=Actor.system("test"),
    )
    for _ in range(3):
        command_create(
            client=client_a.client,
            request=parse_command_request("ping", {"pingCommand": {"profileid": str(profile.pk)}}),
        )
    PushDelivery.objects.filter(pk=PushDelivery.objects.first().pk).update(
        state=PushState.EXHAUSTED, attempts=5, last_error="HTTP 503 Service Unavailable"
    )
    with django_assert_max_num_queries(8):
        page = operator.get(reverse("portal:pushes")).content.decode()
    assert page.count("relay") >= 3
    assert "HTTP 503 Service Unavailable" in page
    assert "5/5" in page
    only = operator.get(reverse("portal:pushes"), {"state": "EXHAUSTED"}).content.decode()
    assert 'class="badge EXHAUSTED"' in only
    assert 'class="badge PENDING"' not in only


def test_revoking_the_box_token_also_removes_the_push_registration(admin, client_a) -> None:
    profile = make_profile(client_a.client)
    Mailbox.objects.filter(profile=profile).update(token_hash="x" * 64)
    registered(profile)
    response = admin.post(reverse("portal:profile_revoke_box_token", args=[profile.pk]))
    assert response.status_code == 302
    assert not PushRegistration.objects.exists()
