"""The push outbox (docs/PROTOCOL.md §14) against real local receivers: a relay notification server
(``tests.e2e.receiver``) and the reference device's Web Push endpoint. The worker's service is
called directly here; tests/e2e/test_push.py runs it in real Celery workers."""

import json
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from hermod_core.api.metrics_view import render_metrics
from hermod_core.emulator.push import WebPushReceiver
from hermod_core.models import (
    Client,
    Mailbox,
    Message,
    MessageState,
    PushDelivery,
    PushRegistration,
    PushState,
)
from hermod_core.protocol.commands import parse_command_request
from hermod_core.push.base import PushOutcome, PushResult
from hermod_core.services.audit import Actor
from hermod_core.services.commands import command_create, profile_delete
from hermod_core.services.content import content_resolve
from hermod_core.services.credentials import box_token_generate, token_hash
from hermod_core.services.push import (
    PushConfigurationError,
    PushSettingsChange,
    _plan,
    _record,
    push_deliver,
    push_register,
    push_settings_set,
    pushes_requeue_lost,
)
from tests.e2e.content_provider import PNG, ContentProvider, image
from tests.e2e.receiver import Receiver
from tests.factories import make_profile

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _quick(settings: Any) -> None:
    settings.HERMOD_PUSH_ALLOW_HTTP = True
    settings.HERMOD_PUSH_TIMEOUT = 3


@pytest.fixture
def relay():
    receiver = Receiver(basic_auth="hermod:relay-pw").start()
    yield receiver
    receiver.stop()


@pytest.fixture
def webpush():
    receiver = WebPushReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def profile(client_a):
    return make_profile(client_a.client)


def auth_command(client: Any, profile: Any) -> Any:
    body = {
        "authCommand": {
            "profileid": str(profile.pk),
            "params": {"tbs": [{"content_type": "text/plain", "data": "TG9naW4="}]},
        }
    }
    return command_create(client=client, request=parse_command_request("authenticate", body))


def ping(client: Any, profile: Any) -> Any:
    request = parse_command_request("ping", {"pingCommand": {"profileid": str(profile.pk)}})
    return command_create(client=client, request=request)


def with_relay(group: Any, relay: Receiver, **extra: Any) -> None:
    push_settings_set(
        group=group,
        change=PushSettingsChange(
            relay_url=relay.url + "/push",
            relay_auth="basic",
            relay_credential="hermod:relay-pw",
            **extra,
        ),
        actor=Actor.system("test"),
    )


def registered_webpush(profile: Any, receiver: WebPushReceiver) -> dict[str, Any]:
    push_settings_set(
        group=profile.group,
        change=PushSettingsChange(webpush_enabled=True),
        actor=Actor.system("test"),
    )
    boxtoken = box_token_generate()
    box = Mailbox.objects.get(profile=profile)
    Mailbox.objects.filter(pk=box.pk).update(token_hash=token_hash(boxtoken))
    answer = push_register(bid=box.pk, token=boxtoken, raw=receiver.registration())
    receiver.vapid_public_key = answer["vapidPublicKey"]
    return answer


def test_a_group_without_push_writes_no_push_row(client_a, profile) -> None:
    ping(client_a.client, profile)
    assert not PushDelivery.objects.exists()


def test_the_push_row_is_written_with_the_message_and_enqueued_after_commit(
    client_a, profile, relay, django_capture_on_commit_callbacks
) -> None:
    with_relay(profile.group, relay)
    with django_capture_on_commit_callbacks() as callbacks:
        command = ping(client_a.client, profile)
        (push,) = PushDelivery.objects.all()
        assert push.message.command == command
        assert push.state == PushState.PENDING
        assert push.provider == "relay"
    assert callbacks  # the task is handed to the broker only once the rows are committed


def test_a_rolled_back_command_leaves_no_push(client_a, profile, relay) -> None:
    with_relay(profile.group, relay)

    def create_then_fail() -> None:
        with transaction.atomic():
            ping(client_a.client, profile)
            assert PushDelivery.objects.count() == 1
            raise RuntimeError("the command's transaction fails after the message was written")

    with pytest.raises(RuntimeError):
        create_then_fail()
    assert not PushDelivery.objects.exists()


def test_the_relay_gets_the_real_products_body_with_ids_and_type_only(
    client_a, profile, relay
) -> None:
    with_relay(profile.group, relay, requestor="Example Bank")
    command = auth_command(client_a.client, profile)
    push = PushDelivery.objects.get()
    assert push_deliver(push_id=push.pk) == "DELIVERED"
    (received,) = relay.received
    assert relay.problems == []
    assert received.path == "/hermod/push"
    message = Message.objects.get(command=command)
    assert received.body == {
        "messageId": str(message.pk),
        "pushId": str(profile.pk),
        "requestor": "Example Bank",
        "type": "AUTH",
    }
    push.refresh_from_db()
    assert (push.state, push.attempts, push.last_error) == ("DELIVERED", 1, "")
    assert push_deliver(push_id=push.pk) == "skipped"  # sent once only
    assert len(relay.attempts) == 1


def test_the_requestor_is_the_client_when_the_group_names_none(client_a, profile, relay) -> None:
    with_relay(profile.group, relay)
    ping(client_a.client, profile)
    push_deliver(push_id=PushDelivery.objects.get().pk)
    assert relay.received[0].body["requestor"] == client_a.client.client_id
    assert relay.received[0].body["type"] == "PING"


def test_a_relay_that_is_down_then_up_gets_the_push_on_a_later_attempt(
    client_a, profile, relay
) -> None:
    with_relay(profile.group, relay)
    ping(client_a.client, profile)
    push = PushDelivery.objects.get()
    relay.status_next = [503]
    assert push_deliver(push_id=push.pk) == "PENDING"
    push.refresh_from_db()
    assert (push.attempts, push.last_status, push.last_error) == (
        1,
        503,
        "HTTP 503 Service Unavailable",
    )
    assert push.next_attempt_at > timezone.now()
    assert push_deliver(push_id=push.pk) == "skipped"  # not due yet
    relay.stop()
    PushDelivery.objects.filter(pk=push.pk).update(next_attempt_at=timezone.now())
    assert push_deliver(push_id=push.pk) == "PENDING"  # connection refused
    push.refresh_from_db()
    assert push.attempts == 2
    assert "ConnectionError" in push.last_error
    relay.start()
    PushDelivery.objects.filter(pk=push.pk).update(next_attempt_at=timezone.now())
    assert push_deliver(push_id=push.pk) == "DELIVERED"
    assert len(relay.received) == 1


def test_a_push_that_keeps_failing_is_exhausted_and_the_command_goes_on(
    client_a, profile, relay, settings
) -> None:
    settings.HERMOD_PUSH_ATTEMPTS = 2
    with_relay(profile.group, relay)
    command = ping(client_a.client, profile)
    push = PushDelivery.objects.get()
    relay.status_next = [500, 500]
    assert push_deliver(push_id=push.pk) == "PENDING"
    PushDelivery.objects.filter(pk=push.pk).update(next_attempt_at=timezone.now())
    assert push_deliver(push_id=push.pk) == "EXHAUSTED"
    command.refresh_from_db()
    assert command.state == "IN_PROGRESS"
    assert Message.objects.get(command=command).state == MessageState.WAITING


def test_a_refused_credential_fails_the_push_at_once(client_a, profile, relay) -> None:
    with_relay(profile.group, relay)
    ping(client_a.client, profile)
    push = PushDelivery.objects.get()
    relay.status_next = [401]
    assert push_deliver(push_id=push.pk) == "FAILED"
    push.refresh_from_db()
    assert (push.attempts, push.last_status) == (1, 401)


def test_a_relay_answering_404_fails_the_push_and_later_messages_are_still_pushed(
    client_a, profile, relay
) -> None:
    """A wrong relay URL answers 404: the push fails, nothing is unregistered."""
    with_relay(profile.group, relay)
    ping(client_a.client, profile)
    relay.status_next = [404]
    assert push_deliver(push_id=PushDelivery.objects.get().pk) == "FAILED"
    ping(client_a.client, profile)
    later = PushDelivery.objects.latest("pk")
    assert push_deliver(push_id=later.pk) == "DELIVERED"


def test_a_message_fetched_before_its_push_is_not_pushed(client_a, profile, relay) -> None:
    with_relay(profile.group, relay)
    command = ping(client_a.client, profile)
    Message.objects.filter(command=command).update(state=MessageState.FETCHED)
    assert push_deliver(push_id=PushDelivery.objects.get().pk) == "SKIPPED"
    assert relay.attempts == []


def test_web_push_arrives_encrypted_with_vapid_and_decrypts_to_the_notice(
    client_a, profile, webpush
) -> None:
    registered_webpush(profile, webpush)
    command = auth_command(client_a.client, profile)
    push = PushDelivery.objects.get()
    assert push.provider == "webpush"
    assert push_deliver(push_id=push.pk) == "DELIVERED"
    received = webpush.wait(5)
    assert received is not None
    assert webpush.problems == []
    message = Message.objects.get(command=command)
    assert received.notice == {
        "messageId": str(message.pk),
        "pushId": str(profile.pk),
        "requestor": client_a.client.client_id,
        "type": "AUTH",
    }
    headers = {k.lower(): v for k, v in received.headers.items()}
    assert headers["urgency"] == "high"
    assert headers["topic"] == str(message.pk).replace("-", "")
    assert int(headers["ttl"]) > 0


def test_a_410_removes_the_registration_and_later_messages_are_not_pushed(
    client_a, profile, webpush
) -> None:
    registered_webpush(profile, webpush)
    ping(client_a.client, profile)
    webpush.gone = True
    assert push_deliver(push_id=PushDelivery.objects.get().pk) == "UNREGISTERED"
    assert not PushRegistration.objects.filter(profile=profile).exists()
    ping(client_a.client, profile)
    assert PushDelivery.objects.count() == 1  # the group has no relay: the device polls


def test_a_410_does_not_remove_a_registration_made_since(client_a, profile, webpush) -> None:
    registered_webpush(profile, webpush)
    ping(client_a.client, profile)
    push = PushDelivery.objects.get()
    webpush.gone = True
    fresh = WebPushReceiver().start()
    try:
        claimed = PushDelivery.objects.select_related("message__command__client").get(pk=push.pk)
        plan = _plan(claimed)
        registered_webpush(profile, fresh)  # the device re-registered while the push was out
        _record(claimed, PushResult(PushOutcome.UNREGISTERED, "HTTP 410", 410), plan.fingerprint)
        assert PushRegistration.objects.filter(profile=profile).exists()
    finally:
        fresh.stop()


def test_a_push_claimed_by_a_worker_that_died_is_requeued_after_its_lease(
    client_a, profile, relay, django_capture_on_commit_callbacks
) -> None:
    with_relay(profile.group, relay)
    ping(client_a.client, profile)
    push = PushDelivery.objects.get()
    # A worker claimed it (lease set) and was killed before recording anything.
    PushDelivery.objects.filter(pk=push.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=30)
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert pushes_requeue_lost(batch=10) == 1
    assert callbacks
    assert push_deliver(push_id=push.pk) == "DELIVERED"
    assert len(relay.received) == 1


def test_a_broken_configuration_is_refused_with_its_reason(profile) -> None:
    cases = [
        (PushSettingsChange(relay_url="ftp://x"), "relay URL"),
        (PushSettingsChange(relay_url="https://n.example", relay_auth="basic"), "credential"),
        (PushSettingsChange(relay_auth="basic", relay_credential="no-colon"), "user:password"),
        (PushSettingsChange(fcm_service_account="{}"), "project_id"),
        (PushSettingsChange(apns_key="not a key"), "PEM"),
        (PushSettingsChange(vapid_subject="me@example.com"), "mailto"),
    ]
    for change, reason in cases:
        with pytest.raises(PushConfigurationError, match=reason):
            push_settings_set(group=profile.group, change=change, actor=Actor.system("test"))


def test_sealed_secrets_never_appear_in_the_settings_row(profile) -> None:
    account = json.dumps(
        {"project_id": "p", "client_email": "a@p.iam", "private_key": "PRIVATE-KEY-TEXT"}
    )
    config = push_settings_set(
        group=profile.group,
        change=PushSettingsChange(fcm_service_account=account, webpush_enabled=True),
        actor=Actor.system("test"),
    )
    assert "PRIVATE-KEY-TEXT" not in config.fcm_service_account_sealed
    assert config.vapid_public
    assert config.providers() == {"fcm", "webpush"}


def test_a_deleted_profile_loses_its_registration_and_its_pending_push_is_skipped(
    client_a, profile, webpush
) -> None:
    registered_webpush(profile, webpush)
    ping(client_a.client, profile)
    profile_delete(profile=profile)
    assert not PushRegistration.objects.filter(profile=profile).exists()
    assert push_deliver(push_id=PushDelivery.objects.get().pk) == "SKIPPED"
    assert webpush.attempts == 0


def test_metrics_count_recent_pushes_by_provider_and_state(client_a, profile, relay) -> None:
    with_relay(profile.group, relay)
    ping(client_a.client, profile)
    ping(client_a.client, profile)
    push_deliver(push_id=PushDelivery.objects.order_by("id").first().pk)
    text = render_metrics()
    assert 'hermod_pushes_recent{provider="relay",state="DELIVERED"} 1' in text
    assert 'hermod_pushes_recent{provider="relay",state="PENDING"} 1' in text


def test_a_push_waiting_for_content_that_never_comes_is_ended_by_the_sweep(
    client_a, profile, relay
) -> None:
    with_relay(profile.group, relay)
    command = ping(client_a.client, profile)
    push = PushDelivery.objects.get()
    # As for a command whose content ids are still being resolved (docs/PROTOCOL.md §13) …
    PushDelivery.objects.filter(pk=push.pk).update(state=PushState.WAITING, next_attempt_at=None)
    assert pushes_requeue_lost(batch=10) == 0
    assert PushDelivery.objects.get().state == PushState.WAITING
    # … and whose content provider failed: the command ends, its message is withdrawn.
    Message.objects.filter(command=command).update(state=MessageState.WITHDRAWN)
    pushes_requeue_lost(batch=10)
    assert PushDelivery.objects.get().state == PushState.SKIPPED
    assert relay.attempts == []


def test_a_push_waits_for_the_content_then_goes_out_when_the_message_is_shown(
    client_a, profile, relay
) -> None:
    picture = "AUTH:0b8f1f5e-4c57-4d7e-9b55-1c3b0f0a7d11"
    provider = ContentProvider(contents={picture: image(PNG, "image/png")}).start()
    try:
        Client.objects.filter(pk=client_a.client.pk).update(content_provider_url=provider.url)
        client_a.client.refresh_from_db()
        with_relay(profile.group, relay)
        body = {
            "authCommand": {
                "profileid": str(profile.pk),
                "params": {
                    "tbs": [{"content_type": "application/hermod+content-id", "data": picture}]
                },
            }
        }
        command = command_create(
            client=client_a.client, request=parse_command_request("authenticate", body)
        )
        push = PushDelivery.objects.get()
        assert push.state == PushState.WAITING  # the device could not fetch it yet
        assert push_deliver(push_id=push.pk) == "skipped"
        assert content_resolve(command_id=command.pk) == "DONE"
        assert PushDelivery.objects.get().state == PushState.PENDING
        assert push_deliver(push_id=push.pk) == "DELIVERED"
        assert relay.received[0].body["type"] == "AUTH"
    finally:
        provider.stop()
