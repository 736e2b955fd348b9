"""Certificates from the group's SCEP CA after a provisioning (docs/PROTOCOL.md §10).

The provisioning result is never lost: the command is already COMPLETED when this runs. Its
callback is held back while ``ca_state`` is PENDING so that it can carry the certificates, and is
released whatever the CA does — success, refusal, or giving up after retries and the deadline.
"""

import base64
import logging
from dataclasses import dataclass, replace
from datetime import timedelta

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from hermod_core.crypto.certs import parse_certificate_der
from hermod_core.lifecycle import CaStep
from hermod_core.models import CaSettings, Certificate, Command, Group, Key
from hermod_core.protocol.commands import parse_command_request
from hermod_core.scep import (
    ScepClient,
    ScepConfig,
    ScepError,
    ScepProtocolError,
    ScepTransientError,
    enroll_until_done,
    make_ra_identity,
)
from hermod_core.services.audit import Actor, audit_record
from hermod_core.services.ca_challenges import CA_STEP_GRACE, ca_settings_locked
from hermod_core.services.commands import callback_release, command_create
from hermod_core.services.dispatch import enqueue_ca_enrollment
from hermod_core.services.errors import ServiceError

logger = logging.getLogger("hermod.ca")

PENDING = CaStep.PENDING
DONE = CaStep.DONE
FAILED = CaStep.FAILED
# A CA task not finished this long after the command's deadline is given up (lost or stuck);
# the command's one-time challenges die at the same moment.
GIVE_UP_AFTER = CA_STEP_GRACE
# How long a claimed CA step is held; PENDING polling ends at the command's deadline.
CA_LEASE = timedelta(minutes=30)
LOST_AFTER = timedelta(seconds=30)


class CaConfigurationError(ServiceError):
    """The group's CA settings cannot be used (bad RA key or certificate)."""


@transaction.atomic
def ca_settings_set(
    *,
    group: Group,
    scep_url: str,
    auto_certify: bool,
    enabled: bool = True,
    challenge_password: str | None = None,
    challenge_mode: str | None = None,
    ra_key_pem: str | None = None,
    ra_certificate_pem: str | None = None,
    actor: Actor,
) -> CaSettings:
    """Create or change a group's SCEP CA (docs/PROTOCOL.md §10).

    ``None`` keeps the stored challenge password, RA key or certificate (secrets are never shown
    back), and the stored challenge mode (``one-time`` for a new CA: the static password reaches
    devices only when ``static`` is chosen explicitly, and a static mode needs a password). When
    an RA identity is present the key and certificate must parse and belong together
    (``CaConfigurationError`` otherwise), so a saved CA is one the workers can use. The audit row
    says which secrets changed, never their values.
    """
    row = CaSettings.objects.select_for_update().filter(group=group).first() or CaSettings(
        group=group
    )
    row.scep_url = scep_url.strip()
    row.auto_certify = auto_certify
    row.enabled = enabled
    if challenge_mode is not None:
        row.challenge_mode = challenge_mode
    changed = []
    for field, value in (
        ("challenge_password", challenge_password),
        ("ra_key_pem", ra_key_pem),
        ("ra_certificate_pem", ra_certificate_pem),
    ):
        if value is not None:
            setattr(row, field, value.strip())
            changed.append(field)
    try:
        row.full_clean(exclude=["group"], validate_unique=False)
    except ValidationError as exc:
        raise CaConfigurationError("; ".join(exc.messages)) from None
    if row.ra_key_pem or row.ra_certificate_pem:
        scep_config(row)  # raises CaConfigurationError for a key/certificate that do not work
    row.save()
    audit_record(
        actor=actor,
        action="group.ca_settings",
        about=group,
        details={
            "scep_url": row.scep_url,
            "enabled": enabled,
            "auto_certify": auto_certify,
            "challenge_mode": row.challenge_mode,
            "changed_secrets": changed,
        },
    )
    return row


def ra_identity_pem(common_name: str) -> tuple[str, str]:
    """A new RA key and self-signed certificate (PEM) for signing SCEP requests."""
    key, cert = make_ra_identity(common_name)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    return key_pem, cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def ca_capabilities(*, settings_row: CaSettings, timeout: float | None = None) -> frozenset[str]:
    """GetCACaps against the group's CA (the console's "test connection")."""
    config = scep_config(settings_row)
    if timeout is not None:
        config = replace(config, timeout=timeout)
    with ScepClient(config) as scep:
        return scep.get_ca_caps()


def scep_config(settings_row: CaSettings) -> ScepConfig:
    try:
        ra_key = serialization.load_pem_private_key(settings_row.ra_key_pem.encode(), password=None)
        ra_cert = x509.load_pem_x509_certificate(settings_row.ra_certificate_pem.encode())
    except ValueError as exc:
        raise CaConfigurationError(f"RA key or certificate unreadable: {exc}") from None
    if not isinstance(ra_key, rsa.RSAPrivateKey):
        raise CaConfigurationError("the RA key must be an RSA key")
    try:
        return ScepConfig(
            url=settings_row.scep_url,
            ra_key=ra_key,
            ra_cert=ra_cert,
            # Only a static password is known to the server in advance: the client checks that
            # the CSR carries one (it cannot add it: the device signed the CSR).
            challenge_password=settings_row.challenge_password
            if settings_row.sends_static_password
            else None,
        )
    except ScepError as exc:
        raise CaConfigurationError(str(exc)) from None


def _finish(command_id: int, state: str, error: str = "") -> None:
    with transaction.atomic():
        updated = Command.objects.filter(pk=command_id, ca_state=PENDING).update(
            ca_state=state, ca_error=error
        )
        if updated:
            callback_release(command_id=command_id)


def _auto_certify(command: Command, certificates: list[tuple[Key, str]]) -> None:
    body = {
        "commandHeader": {"to": [str(command.profile_id)], "lifespan": 300, "timeout": 300},
        "certCommand": {
            "profileid": str(command.profile_id),
            "certificates": [
                {"keyid": key.keyid, "keystate": key.keystate, "data": data}
                for key, data in certificates
            ],
        },
    }
    command_create(client=command.client, request=parse_command_request("certificate", body))


def ca_enroll(*, command_id: int, final_attempt: bool = False) -> str:
    """Enroll every key of a completed provisioning at its group's CA; returns the new ca_state.

    Transient CA errors propagate (the task retries) unless ``final_attempt``; a refusal, a
    protocol error, a bad configuration or the deadline end the CA step as FAILED.
    """
    # Claim the CA step (conditional UPDATE, like callbacks): one worker enrolls at a time.
    now = timezone.now()
    claimed = Command.objects.filter(
        pk=command_id, ca_state=PENDING, ca_next_attempt_at__lte=now
    ).update(ca_next_attempt_at=now + CA_LEASE)
    command = Command.objects.select_related("client", "group").filter(pk=command_id).first()
    if not claimed or command is None or command.profile_id is None:
        return command.ca_state if command else "missing"
    settings_row = CaSettings.objects.filter(group_id=command.group_id, enabled=True).first()
    if settings_row is None:
        _finish(command_id, FAILED, "The group has no CA configured any more.")
        return FAILED
    keys = list(Key.objects.filter(profile_id=command.profile_id).order_by("id"))
    issued: list[tuple[Key, str]] = []
    try:
        client = ScepClient(scep_config(settings_row))
        deadline = max(command.expires_at, timezone.now() + timedelta(seconds=30))
        for key in keys:
            result = enroll_until_done(client, base64.b64decode(key.certreq), deadline=deadline)
            if result.certificate is None:
                raise ScepProtocolError("NO_CERTIFICATE", "the CA answered SUCCESS without one")
            issued.append((key, _store(key, result.certificate)))
    except ScepTransientError as exc:
        if not final_attempt:
            Command.objects.filter(pk=command_id).update(ca_next_attempt_at=timezone.now())
            raise
        _finish(command_id, FAILED, f"CA unreachable: {exc}")
        return FAILED
    except (ScepError, CaConfigurationError) as exc:
        logger.warning("CA enrollment of command %s failed: %s", command_id, exc)
        _finish(command_id, FAILED, str(exc))
        return FAILED
    with transaction.atomic():
        if settings_row.auto_certify and issued:
            _auto_certify(command, issued)
        _finish(command_id, DONE)
    return DONE


def _store(key: Key, certificate: x509.Certificate) -> str:
    der = certificate.public_bytes(serialization.Encoding.DER)
    parsed = parse_certificate_der(der)
    data = base64.b64encode(der).decode("ascii")
    Certificate.objects.get_or_create(
        key=key,
        sha256=parsed.sha256_fingerprint,
        defaults={
            "profile_id": key.profile_id,
            "source": Certificate.Source.CA,
            "der_b64": data,
            "subject": parsed.subject,
            "issuer": parsed.issuer,
            "serial": str(parsed.serial_number),
            "not_before": parsed.not_before,
            "not_after": parsed.not_after,
        },
    )
    return data


def ca_requeue_stalled(*, batch: int) -> int:
    """Re-enqueue CA steps whose task was lost; give up on those long past their deadline."""
    now = timezone.now()
    stalled = Command.objects.filter(ca_state=PENDING, ca_next_attempt_at__lte=now - LOST_AFTER)
    overdue = list(
        stalled.filter(expires_at__lte=now - GIVE_UP_AFTER).values_list("pk", flat=True)[:batch]
    )
    for command_id in overdue:
        _finish(command_id, FAILED, "The CA step did not finish in time.")
    lost = stalled.filter(expires_at__gt=now - GIVE_UP_AFTER).values_list("pk", flat=True)
    with transaction.atomic():
        for command_id in lost[:batch]:
            enqueue_ca_enrollment(command_id)
    return len(overdue)


# --- from the console: a new RA identity, a test of the CA ------------------------------------

SCEP_TEST_TIMEOUT = 10.0


@transaction.atomic
def ca_ra_identity_generate(*, actor: Actor, group: Group, common_name: str) -> CaSettings:
    """Give a group's CA settings a fresh RA key and self-signed certificate.

    The CA must already have its URL saved (``CaConfigurationError`` otherwise). The key is
    stored PEM (unencrypted: the workers sign with it); the certificate is what the CA
    administrator registers.
    """
    ca = ca_settings_locked(group)
    name = (common_name.strip() or f"Hermod RA {group.name}")[:64]
    ca.ra_key_pem, ca.ra_certificate_pem = ra_identity_pem(name)
    ca.save(update_fields=["ra_key_pem", "ra_certificate_pem", "updated_at"])
    audit_record(
        actor=actor,
        action="group.ca_ra_identity",
        about=group,
        details={"common_name": name},
    )
    return ca


@dataclass(frozen=True)
class CaTestResult:
    ok: bool
    capabilities: tuple[str, ...] = ()
    error: str = ""


def ca_test_connection(*, actor: Actor, group: Group) -> CaTestResult:
    """Ask the group's CA for its capabilities (SCEP GetCACaps) and record the outcome.

    Never raises for a CA that is down or misconfigured: the result says what went wrong.
    """
    ca = CaSettings.objects.filter(group=group).first()
    if ca is None:
        result = CaTestResult(ok=False, error="The group has no CA settings.")
    else:
        try:
            caps = ca_capabilities(settings_row=ca, timeout=SCEP_TEST_TIMEOUT)
            result = CaTestResult(ok=True, capabilities=tuple(sorted(caps)))
        except CaConfigurationError as exc:
            result = CaTestResult(ok=False, error=str(exc))
        except ScepError as exc:
            result = CaTestResult(ok=False, error=exc.message)
    audit_record(
        actor=actor,
        action="group.ca_test",
        about=group,
        details={"ok": result.ok, "capabilities": list(result.capabilities), "error": result.error},
    )
    return result
