"""What an admin or operator does in the console, on the domain: each change is audited with the
person who made it and the address it came from.

The console calls the same services as the command line and the API (``client_create``,
``command_create`` …) so that there is one way to do each thing; this module adds the console's
own operations (callback settings, trusted keys, CA settings, test callbacks) and attributes the
audit rows the shared services write to the signed-in user.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from hermod_core.crypto.errors import CryptoError
from hermod_core.crypto.jwk import jwk_from_public_key, public_key_from_jwk, thumbprint
from hermod_core.lifecycle import State
from hermod_core.models import (
    AuditEvent,
    CallbackDelivery,
    CaSettings,
    Client,
    Command,
    DeliveryState,
    Group,
    Mailbox,
    MailboxKind,
    Profile,
    TrustedAttestationKey,
)
from hermod_core.protocol.client_config import ClientConfigError, read_client_config
from hermod_core.protocol.commands import parse_command_request
from hermod_core.protocol.results import iso
from hermod_core.scep import ScepError
from hermod_core.services.audit import Actor, audit_record
from hermod_core.services.ca import (
    CaConfigurationError,
    ca_capabilities,
    ca_settings_set,
    ra_identity_pem,
)
from hermod_core.services.ca_challenges import ca_verifier_rotate
from hermod_core.services.callbacks import callback_resend
from hermod_core.services.clients import (
    ClientError,
    ImportResult,
    IssuedKey,
    client_create,
    client_delete,
    client_rotate_key,
    client_set_enabled,
    client_settings_update,
    clients_import,
)
from hermod_core.services.commands import command_create, command_transition
from hermod_core.services.dispatch import enqueue_callback
from hermod_core.services.push import push_forget

TEST_CALLBACK_PATH = "/callback/test"
# A private JWK member: a pasted key holding one is refused, so no private key is ever stored.
_PRIVATE_JWK_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
SCEP_TEST_TIMEOUT = 10.0


class ConsoleError(Exception):
    """A console operation that cannot be done; the message is shown to the person as is."""


def console_audit(
    actor: Actor,
    action: str,
    *,
    target_type: str = "",
    target_id: str = "",
    group: Group | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    return audit_record(
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=target_id,
        group=group,
        details=details,
    )


@contextmanager
def _attributed(actor: Actor) -> Iterator[None]:
    """Run a shared service in one transaction."""
    with transaction.atomic():
        yield


# --- clients ----------------------------------------------------------------------------------


def console_client_create(
    *,
    actor: Actor,
    client_id: str,
    group_name: str,
    callback_url: str = "",
    callback_basic_auth: str = "",
    callback_signing_secret: str = "",
    callback_attempts: int | None = None,
    callback_retry_delay: int | None = None,
    content_provider_url: str = "",
    content_provider_basic_auth: str = "",
) -> IssuedKey:
    """``client_create`` from the console: a new client whose key is returned once, in an
    existing group (the console never creates a group on the way: ``services.groups``).

    A duplicate id, an unknown group or an invalid callback URL raises ``ConsoleError``; nothing
    is written then.
    """
    try:
        with _attributed(actor):
            return client_create(
                client_id=client_id,
                group_name=group_name,
                create_group=False,
                callback_url=callback_url,
                callback_basic_auth=callback_basic_auth,
                callback_signing_secret=callback_signing_secret,
                callback_attempts=callback_attempts,
                callback_retry_delay=callback_retry_delay,
                content_provider_url=content_provider_url,
                content_provider_basic_auth=content_provider_basic_auth,
                actor=actor,
            )
    except ClientError as exc:
        raise ConsoleError(str(exc)) from None


def console_client_settings_update(
    *, actor: Actor, client: Client, changes: dict[str, object]
) -> Client:
    """``client_settings_update`` from the console (content provider, retry policy): validated
    as a whole, a refused change (``ConsoleError``) writes nothing and leaves ``client`` as it
    was; the audit row names the console account and never a secret's value."""
    candidate = copy.copy(client)
    try:
        with _attributed(actor):
            client_settings_update(client=candidate, changes=changes, actor=actor)
    except ClientError as exc:
        raise ConsoleError(str(exc)) from None
    for name in changes:
        setattr(client, name, getattr(candidate, name))
    return client


def console_client_rotate_key(
    *, actor: Actor, client: Client, grace: timedelta = timedelta(0)
) -> IssuedKey:
    """``client_rotate_key`` from the console: the old key stops working at once, or after
    ``grace`` (``ConsoleError`` for a period out of range)."""
    try:
        with _attributed(actor):
            return client_rotate_key(client=client, actor=actor, grace=grace)
    except ClientError as exc:
        raise ConsoleError(str(exc)) from None


def console_client_delete(*, actor: Actor, client: Client) -> Client:
    """``client_delete`` from the console; the audit row names the console account."""
    try:
        with _attributed(actor):
            return client_delete(client=client, actor=actor)
    except ClientError as exc:
        raise ConsoleError(str(exc)) from None


def console_client_set_enabled(*, actor: Actor, client: Client, enabled: bool) -> Client:
    """``client_set_enabled`` from the console; a disabled client's key answers 401."""
    with _attributed(actor):
        return client_set_enabled(client=client, enabled=enabled, actor=actor)


def console_clients_import(*, actor: Actor, text: str) -> ImportResult:
    """Import a Hermod configuration file: every entry or none (``ConsoleError`` says why)."""
    try:
        config = read_client_config(text)
        with _attributed(actor):
            return clients_import(entries=config.entries, notes=config.notes, actor=actor)
    except (ClientConfigError, ClientError) as exc:
        raise ConsoleError(str(exc)) from None


@transaction.atomic
def client_callback_update(
    *,
    actor: Actor,
    client: Client,
    callback_url: str,
    callback_basic_auth: str | None,
    callback_signing_secret: str | None,
) -> Client:
    """Change where and how a client's callbacks go.

    ``None`` for the basic auth or the signing secret keeps the stored value (they are never
    shown back), ``""`` clears it. The audit row says which secrets changed, never their values.
    Callbacks already frozen keep their body; they go to the new URL from their next attempt.
    """
    changes = {"callback_url": callback_url.strip()}
    if callback_basic_auth is not None:
        if callback_basic_auth and ":" not in callback_basic_auth:
            raise ConsoleError("Basic auth must be written user:password.")
        changes["callback_basic_auth"] = callback_basic_auth
    if callback_signing_secret is not None:
        changes["callback_signing_secret"] = callback_signing_secret
    # Validated on a copy: a refused change leaves the caller's client as it was.
    candidate = copy.copy(client)
    for name, value in changes.items():
        setattr(candidate, name, value)
    try:
        candidate.full_clean(exclude=["key_hash", "group"], validate_unique=False)
    except ValidationError as exc:
        raise ConsoleError("; ".join(exc.messages)) from None
    for name, value in changes.items():
        setattr(client, name, value)
    client.save(update_fields=list(changes))
    changed = [name.removeprefix("callback_") for name in changes if name != "callback_url"]
    console_audit(
        actor,
        "client.update_callback",
        target_type="client",
        target_id=client.client_id,
        group=client.group,
        details={"callback_url": client.callback_url, "changed_secrets": changed},
    )
    return client


@transaction.atomic
def callback_send_test(*, client: Client, actor: Actor) -> CallbackDelivery:
    """Send a small test callback to ``<callback-url>/callback/test``, through the outbox.

    A delivery row without a command, due now and allowed one attempt (a test shows whether
    the receiver works; retries would hide it), handed to the workers after commit like any
    callback — so it is signed and authenticated exactly as real callbacks are.
    """
    if not client.callback_url:
        raise ConsoleError(f"Client {client.client_id} has no callback URL.")
    now = timezone.now()
    delivery = CallbackDelivery.objects.create(
        command=None,
        client=client,
        path=TEST_CALLBACK_PATH,
        state=DeliveryState.PENDING,
        body={
            "test": True,
            "clientId": client.client_id,
            "message": "Test callback from the Hermod console.",
            "sentAt": iso(now),
        },
        max_attempts=1,
        next_attempt_at=now,
    )
    console_audit(
        actor,
        "callback.test",
        target_type="client",
        target_id=client.client_id,
        group=client.group,
        details={"event_id": str(delivery.event_id)},
    )
    enqueue_callback(delivery.pk)
    return delivery


def console_callback_resend(*, actor: Actor, delivery: CallbackDelivery) -> None:
    """``callback_resend`` from the console: an exhausted delivery gets fresh attempts."""
    with _attributed(actor):
        callback_resend(delivery=delivery, actor=actor)


def callbacks_resend_exhausted(*, actor: Actor) -> int:
    """Resend every exhausted delivery of a command (same event ids and bodies; test callbacks
    are not resent); returns how many."""
    deliveries = list(
        CallbackDelivery.objects.select_related("client__group").filter(
            state=DeliveryState.EXHAUSTED, command__isnull=False
        )
    )
    with _attributed(actor):
        for delivery in deliveries:
            callback_resend(delivery=delivery, actor=actor)
    return len(deliveries)


# --- groups: trusted attestation keys and CA settings -----------------------------------------


@transaction.atomic
def trusted_key_add(
    *, actor: Actor, group: Group, jwk_text: str, label: str = ""
) -> TrustedAttestationKey:
    """Trust a device attestation key (docs/PROTOCOL.md §6.2 rule 1) for a group.

    Only the public members are stored (a JWK with private members is refused); the
    thumbprint is RFC 7638, as recorded on profiles.
    """
    try:
        raw = json.loads(jwk_text)
    except json.JSONDecodeError:
        raise ConsoleError("The key is not valid JSON.") from None
    if isinstance(raw, dict) and _PRIVATE_JWK_MEMBERS & raw.keys():
        raise ConsoleError("That is a private key; paste the public JWK only.")
    try:
        public = jwk_from_public_key(public_key_from_jwk(raw))
        print_ = thumbprint(public)
    except CryptoError as exc:
        raise ConsoleError(exc.message) from None
    if TrustedAttestationKey.objects.filter(group=group, thumbprint=print_).exists():
        raise ConsoleError("This key is already trusted by the group.")
    key = TrustedAttestationKey.objects.create(
        group=group, label=label.strip()[:200], jwk=public, thumbprint=print_
    )
    console_audit(
        actor,
        "group.trust_key",
        target_type="group",
        target_id=group.name,
        group=group,
        details={"thumbprint": print_, "label": key.label},
    )
    return key


@transaction.atomic
def box_token_revoke(*, actor: Actor, profile: Profile) -> bool:
    """Revoke the box token of a profile's permanent box: from the next request on, the device
    can no longer open its box (the profile stays; provision again to reconnect the device).
    True if there was a token to revoke."""
    revoked = (
        Mailbox.objects.filter(profile=profile, kind=MailboxKind.PERMANENT)
        .exclude(token_hash="")
        .update(token_hash="")
    )
    if revoked:
        # The device can no longer fetch: waking it would only tell it that something waits.
        push_forget(profile_id=profile.pk)
        console_audit(
            actor,
            "profile.revoke_box_token",
            target_type="profile",
            target_id=str(profile.pk),
            group=profile.group,
        )
    return bool(revoked)


@transaction.atomic
def trusted_key_remove(*, actor: Actor, key: TrustedAttestationKey) -> None:
    """Stop trusting an attestation key; profiles it signed stay as they are."""
    group = key.group
    details = {"thumbprint": key.thumbprint, "label": key.label}
    key.delete()
    console_audit(
        actor,
        "group.untrust_key",
        target_type="group",
        target_id=group.name,
        group=group,
        details=details,
    )


def ca_settings_save(
    *,
    actor: Actor,
    group: Group,
    scep_url: str,
    enabled: bool,
    auto_certify: bool,
    challenge_password: str | None,
    ra_key_pem: str | None,
    ra_certificate_pem: str | None,
    challenge_mode: str | None = None,
) -> CaSettings:
    """Create or change a group's SCEP CA from the console (``ca_settings_set``)."""
    try:
        with _attributed(actor):
            return ca_settings_set(
                group=group,
                scep_url=scep_url,
                enabled=enabled,
                auto_certify=auto_certify,
                challenge_password=challenge_password,
                challenge_mode=challenge_mode,
                ra_key_pem=ra_key_pem,
                ra_certificate_pem=ra_certificate_pem,
                actor=actor,
            )
    except CaConfigurationError as exc:
        raise ConsoleError(str(exc)) from None


def ca_verifier_generate(*, actor: Actor, group: Group) -> str:
    """A new verifier credential for the group's CA (``ca_verifier_rotate``), shown once."""
    if not CaSettings.objects.filter(group=group).exists():
        raise ConsoleError("Save the CA's SCEP URL first.")
    with _attributed(actor):
        return ca_verifier_rotate(group=group, actor=actor)


@transaction.atomic
def ca_ra_identity_generate(*, actor: Actor, group: Group, common_name: str) -> CaSettings:
    """Give a group's CA settings a fresh RA key and self-signed certificate.

    The CA must already have its URL saved. The key is stored PEM (unencrypted: the workers
    sign with it); the certificate is what the CA administrator registers.
    """
    ca = CaSettings.objects.select_for_update().filter(group=group).first()
    if ca is None:
        raise ConsoleError("Save the CA's SCEP URL first.")
    name = (common_name.strip() or f"Hermod RA {group.name}")[:64]
    ca.ra_key_pem, ca.ra_certificate_pem = ra_identity_pem(name)
    ca.save(update_fields=["ra_key_pem", "ra_certificate_pem", "updated_at"])
    console_audit(
        actor,
        "group.ca_ra_identity",
        target_type="group",
        target_id=group.name,
        group=group,
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
    console_audit(
        actor,
        "group.ca_test",
        target_type="group",
        target_id=group.name,
        group=group,
        details={"ok": result.ok, "capabilities": list(result.capabilities), "error": result.error},
    )
    return result


# --- commands ---------------------------------------------------------------------------------


@transaction.atomic
def console_command_issue(
    *, actor: Actor, client: Client, endpoint_name: str, body: dict[str, Any]
) -> Command:
    """Create a command on behalf of ``client`` exactly as the command API would.

    The body goes through ``parse_command_request`` and ``command_create`` (so every rule of
    docs/PROTOCOL.md §4–§5, the address resolution inside the client's group and the in-progress
    limit apply); its callbacks go to that client. Raises ``ProtocolError`` / ``CommandError``
    like the API, or ``ConsoleError`` for a disabled client.
    """
    if not client.enabled:
        raise ConsoleError(f"Client {client.client_id} is disabled.")
    request = parse_command_request(endpoint_name, body)
    command = command_create(client=client, request=request)
    console_audit(
        actor,
        "command.issue",
        target_type="command",
        target_id=str(command.pk),
        group=client.group,
        details={
            "type": command.command_type,
            "client": client.client_id,
            "externalId": command.external_id,
        },
    )
    return command


@transaction.atomic
def console_command_cancel(*, actor: Actor, command: Command) -> bool:
    """Cancel a command still in progress; False (and nothing changes) if it was already final.

    Goes through ``command_transition`` like every state change, so the client gets its
    CANCELLED callback exactly once.
    """
    won = command_transition(
        command_id=command.pk,
        to=State.CANCELLED,
        failure_code="CANCELLED",
        failure_reason=f"Cancelled in the console by {actor.name}.",
    )
    console_audit(
        actor,
        "command.cancel",
        target_type="command",
        target_id=str(command.pk),
        group=command.group,
        details={"cancelled": won},
    )
    return won
