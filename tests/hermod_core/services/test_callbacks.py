"""Callback delivery attempts against a real local receiver (the worker's service, called
directly; the end-to-end tests run it in real Celery workers)."""

import hashlib
import hmac
import json
import ssl
from datetime import timedelta

import pytest
from django.utils import timezone

from hermod_core import callback_http
from hermod_core.lifecycle import State
from hermod_core.models import CallbackAttempt, CallbackDelivery, Client, Command
from hermod_core.protocol.commands import parse_command_request
from hermod_core.services.audit import Actor
from hermod_core.services.callbacks import (
    callback_deliver,
    callback_resend,
    callbacks_requeue_lost,
    retry_delay,
)
from hermod_core.services.commands import command_create, command_transition
from tests.e2e.receiver import Receiver
from tests.seeds import provisioning_command
from tests.tls_ca import make_tls_files

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver():
    receiver = Receiver(basic_auth="idm:pw", signing_secret="sekrit").start()
    yield receiver
    receiver.stop()


@pytest.fixture
def finished(client_a, receiver) -> CallbackDelivery:
    Client.objects.filter(pk=client_a.client.pk).update(
        callback_url=receiver.url, callback_basic_auth="idm:pw", callback_signing_secret="sekrit"
    )
    client_a.client.refresh_from_db()
    command = command_create(
        client=client_a.client,
        request=parse_command_request("provision", provisioning_command()),
    )
    assert CallbackDelivery.objects.get(command=command).state == "WAITING"
    command_transition(command_id=command.pk, to=State.CANCELLED, failure_code="CANCELLED")
    return CallbackDelivery.objects.get(command=command)


def test_a_final_command_releases_its_callback_with_a_frozen_body(finished) -> None:
    assert finished.state == "PENDING"
    assert finished.body["state"] == "CANCELLED"
    assert finished.path == "/callback/provision"


def test_a_delivery_sends_the_body_with_auth_signature_and_event_id(finished, receiver) -> None:
    assert callback_deliver(delivery_id=finished.pk) == "DELIVERED"
    (received,) = receiver.received
    assert receiver.problems == []
    assert received.path == "/hermod/callback/provision"
    assert received.event_id == str(finished.event_id)
    assert json.loads(received.raw) == finished.body
    expected = hmac.new(b"sekrit", received.raw, hashlib.sha256).hexdigest()
    assert received.headers["X-Hermod-Signature"] == f"sha256={expected}"
    assert CallbackAttempt.objects.get(delivery=finished).status_code == 200
    assert callback_deliver(delivery_id=finished.pk) == "skipped"  # delivered once only


def test_a_failed_attempt_is_recorded_and_scheduled_again(finished, receiver) -> None:
    receiver.fail_next = 1
    assert callback_deliver(delivery_id=finished.pk) == "PENDING"
    finished.refresh_from_db()
    assert (finished.attempts, finished.last_status, finished.last_error) == (1, 500, "HTTP 500")
    assert finished.next_attempt_at > timezone.now()
    assert callback_deliver(delivery_id=finished.pk) == "skipped"  # not due yet
    CallbackDelivery.objects.filter(pk=finished.pk).update(next_attempt_at=timezone.now())
    assert callback_deliver(delivery_id=finished.pk) == "DELIVERED"
    assert [a.status_code for a in CallbackAttempt.objects.filter(delivery=finished)] == [500, 200]


def test_an_unreachable_receiver_exhausts_the_attempts_and_can_be_resent(
    finished, receiver
) -> None:
    receiver.stop()
    CallbackDelivery.objects.filter(pk=finished.pk).update(max_attempts=2)
    for _ in range(2):
        CallbackDelivery.objects.filter(pk=finished.pk).update(next_attempt_at=timezone.now())
        callback_deliver(delivery_id=finished.pk)
    finished.refresh_from_db()
    assert finished.state == "EXHAUSTED"
    assert "ConnectionError" in finished.last_error
    receiver.start()
    callback_resend(delivery=finished, actor=Actor.system("test"))
    assert callback_deliver(delivery_id=finished.pk) == "DELIVERED"
    numbers = list(
        CallbackAttempt.objects.filter(delivery=finished).values_list("number", flat=True)
    )
    assert numbers == [1, 2, 3]
    (received,) = receiver.received
    assert received.event_id == str(finished.event_id)


def test_backoff_doubles_with_jitter(settings) -> None:
    settings.HERMOD_CALLBACK_RETRY_DELAY = 30
    settings.HERMOD_CALLBACK_BACKOFF = True
    delays = [retry_delay(n).total_seconds() for n in (1, 2, 3)]
    for delay, base in zip(delays, (30, 60, 120), strict=True):
        assert base * 0.9 <= delay <= base * 1.1
    settings.HERMOD_CALLBACK_BACKOFF = False
    assert retry_delay(5) == timedelta(seconds=30)


def test_a_lost_delivery_is_found_by_the_sweep(
    finished, django_capture_on_commit_callbacks
) -> None:
    CallbackDelivery.objects.filter(pk=finished.pk).update(
        next_attempt_at=timezone.now() - timedelta(minutes=5)
    )
    with django_capture_on_commit_callbacks() as callbacks:
        assert callbacks_requeue_lost(batch=10) == 1
    assert len(callbacks) == 1


def test_a_client_without_callback_url_gets_no_delivery(client_a) -> None:
    Client.objects.filter(pk=client_a.client.pk).update(callback_url="")
    client_a.client.refresh_from_db()
    command = command_create(
        client=client_a.client,
        request=parse_command_request("provision", provisioning_command()),
    )
    command_transition(command_id=command.pk, to=State.CANCELLED)
    assert CallbackDelivery.objects.get(command=command).state == "SKIPPED"
    assert Command.objects.get(pk=command.pk).state == "CANCELLED"


def _tls_receiver(tmp_path) -> tuple[Receiver, str]:
    """An HTTPS receiver whose certificate (for 127.0.0.1) is issued by a private CA."""
    files = make_tls_files(tmp_path / "tls")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(files.cert_pem, files.key_pem)
    cacerts = tmp_path / "cacerts"
    cacerts.mkdir()
    (cacerts / "private-ca.cer").write_bytes(files.ca_pem.read_bytes())
    return Receiver(tls=context).start(), str(cacerts)


def test_tls_trusts_the_configured_ca_folder_and_nothing_else(client_a, settings, tmp_path) -> None:
    receiver, cacerts = _tls_receiver(tmp_path)
    try:
        Client.objects.filter(pk=client_a.client.pk).update(callback_url=receiver.url)
        client_a.client.refresh_from_db()
        command = command_create(
            client=client_a.client,
            request=parse_command_request("provision", provisioning_command()),
        )
        command_transition(command_id=command.pk, to=State.CANCELLED)
        delivery = CallbackDelivery.objects.get(command=command)
        settings.HERMOD_CALLBACK_CA_DIR = None
        assert callback_deliver(delivery_id=delivery.pk) == "PENDING"
        delivery.refresh_from_db()
        assert "SSL" in delivery.last_error
        settings.HERMOD_CALLBACK_CA_DIR = cacerts
        settings.VAR_DIR = tmp_path
        CallbackDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        assert callback_deliver(delivery_id=delivery.pk) == "DELIVERED"
        assert len(receiver.received) == 1
    finally:
        receiver.stop()


def _cancelled_delivery(client: Client, callback_url: str) -> CallbackDelivery:
    Client.objects.filter(pk=client.pk).update(callback_url=callback_url)
    client.refresh_from_db()
    command = command_create(
        client=client, request=parse_command_request("provision", provisioning_command())
    )
    command_transition(command_id=command.pk, to=State.CANCELLED)
    return CallbackDelivery.objects.get(command=command)


def test_a_receiver_without_proxy_or_netrc_is_posted_to_by_the_lean_client(
    client_a, monkeypatch
) -> None:
    receiver = Receiver().start()
    sent = []

    def spy(url: str, *args, **kwargs) -> int:
        sent.append(url)
        return original(url, *args, **kwargs)

    original = callback_http.post
    monkeypatch.setattr(callback_http, "post", spy)
    try:
        delivery = _cancelled_delivery(client_a.client, receiver.url)
        assert callback_deliver(delivery_id=delivery.pk) == "DELIVERED"
        assert sent == [f"{receiver.url}/callback/provision"]
        assert len(receiver.received) == 1
    finally:
        receiver.stop()


def test_a_proxy_from_the_environment_carries_the_callback(client_a, monkeypatch) -> None:
    """HTTP_PROXY applies to callbacks as it did with requests alone: the proxy is asked for
    the receiver's absolute URL (and the receiver's host need not resolve here)."""
    proxy = Receiver().start()
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    try:
        delivery = _cancelled_delivery(client_a.client, "http://receiver.example.invalid/hermod")
        assert callback_deliver(delivery_id=delivery.pk) == "DELIVERED"
        (received,) = proxy.received
        assert received.path == "http://receiver.example.invalid/hermod/callback/provision"
        assert received.event_id == str(delivery.event_id)
    finally:
        proxy.stop()


def test_netrc_credentials_of_the_receiver_are_sent(client_a, monkeypatch, tmp_path) -> None:
    receiver = Receiver(basic_auth="idm:from-netrc").start()
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login idm password from-netrc\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    try:
        delivery = _cancelled_delivery(client_a.client, receiver.url)
        assert callback_deliver(delivery_id=delivery.pk) == "DELIVERED"
        assert receiver.problems == []
        assert len(receiver.received) == 1
    finally:
        receiver.stop()
