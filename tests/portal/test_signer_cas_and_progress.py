"""The console's side of issue 11: a group's trusted signer CAs, and a command page that shows
its destinations' progress and what the server established of a signature."""

from datetime import timedelta

from cryptography.hazmat.primitives import serialization
from django.urls import reverse
from django.utils import timezone

from hermod_core.emulator.testca import make_self_signed_ca
from hermod_core.models import AuditEvent, Command, Mailbox, MailboxKind, Message, TrustedSignerCa


def _pem(common_name: str) -> str:
    return make_self_signed_ca(common_name)[1].public_bytes(serialization.Encoding.PEM).decode()


def test_an_admin_trusts_and_forgets_a_signer_ca(admin, client_a) -> None:
    response = admin.post(
        reverse("portal:group_signer_ca_add", args=["smartid"]),
        {"label": "Issuing CA", "certificate": _pem("Signer CA")},
    )
    assert response.status_code == 302
    ca = TrustedSignerCa.objects.get()
    assert ca.subject == "CN=Signer CA"
    page = admin.get(reverse("portal:group", args=["smartid"])).content.decode()
    assert ca.sha256 in page
    assert AuditEvent.objects.filter(action="group.trust_signer_ca", actor_user__isnull=False)
    removed = admin.post(reverse("portal:group_signer_ca_remove", args=["smartid", ca.pk]))
    assert removed.status_code == 302
    assert not TrustedSignerCa.objects.exists()


def test_a_certificate_that_is_no_ca_is_refused_with_the_reason(admin, client_a) -> None:
    response = admin.post(
        reverse("portal:group_signer_ca_add", args=["smartid"]),
        {"certificate": "not a certificate"},
    )
    assert response.status_code == 400
    assert "not base64 DER or PEM" in response.content.decode()
    assert not TrustedSignerCa.objects.exists()


def test_an_operator_cannot_trust_a_signer_ca(operator, client_a) -> None:
    response = operator.post(
        reverse("portal:group_signer_ca_add", args=["smartid"]),
        {"certificate": _pem("Signer CA")},
    )
    assert response.status_code == 403
    assert not TrustedSignerCa.objects.exists()


def test_the_command_page_shows_destination_progress_and_an_unverified_signature(
    admin, client_a
) -> None:
    now = timezone.now()
    command = Command.objects.create(
        client=client_a.client,
        group=client_a.client.group,
        command_type="SIGN",
        lifespan=300,
        timeout=300,
        expires_at=now + timedelta(minutes=5),
        body={"params": {"tbs": [{"data": "UGF5"}], "format": "XMLDSIG"}},
        state="COMPLETED",
        finished_at=now,
        signature={"verification": "NOT_VERIFIED_BY_SERVER", "format": "xmldsig"},
    )
    box = Mailbox.objects.create(group=client_a.client.group, kind=MailboxKind.TEMPORARY)
    Message.objects.create(
        command=command,
        mailbox=box,
        to="@tmp",
        token_hash="0" * 64,
        expires_at=now + timedelta(minutes=5),
        state="ANSWERED",
        fetched_at=now,
    )
    page = admin.get(reverse("portal:command", args=[command.pk])).content.decode()
    assert 'data-destination-state="ANSWERED"' in page
    assert 'data-verification="NOT_VERIFIED_BY_SERVER"' in page
    assert "not verified by the server" in page
