"""Push (docs/PROTOCOL.md §14, docs/push.md): registrations, the push outbox and its delivery.

A push only wakes the app; the app then fetches from its box as it would when polling. So a
push is written with its message (same transaction), sent after commit, retried with backoff
while the message still waits, and never fails or delays the command: whatever goes wrong, the
device can still poll.
"""

import json
import logging
import random
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from hermod_core import sql
from hermod_core.models import (
    Command,
    CommandState,
    Group,
    GroupPushSettings,
    Mailbox,
    MailboxKind,
    Message,
    MessageState,
    Profile,
    PushDelivery,
    PushProviderName,
    PushRegistration,
    PushState,
    RelayAuth,
)
from hermod_core.protocol.client_config import is_http_url
from hermod_core.protocol.push import parse_registration
from hermod_core.push.base import PushNotice, PushOutcome, PushResult, PushTarget
from hermod_core.push.providers import PUSH_SECRET, ProviderUnavailable, provider_build
from hermod_core.push.transport import retry_after_in
from hermod_core.push.webpush import vapid_keys_generate
from hermod_core.services.audit import Actor, audit_record
from hermod_core.services.credentials import keyed_digest, seal, token_matches, unseal
from hermod_core.services.dispatch import enqueue_push, enqueue_pushes

logger = logging.getLogger("hermod.push")

# A claimed attempt holds the row this long past the provider timeout: a worker that died
# mid-attempt releases it by time, and the sweep hands it to another worker.
LEASE_MARGIN = timedelta(seconds=5)
LOST_AFTER = timedelta(seconds=10)


class BoxNotOpened(Exception):
    """No open permanent box for this box token: the caller answers 404 (no oracle, §6)."""


class PushRefused(Exception):
    """A registration the group cannot serve (its provider is not configured)."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


class PushConfigurationError(Exception):
    """Push settings that cannot work; the message names the setting."""


# --- registration (the device) -----------------------------------------------------------------


def _fingerprint(token: str) -> str:
    """Tells two tokens apart in the console without showing either: a keyed hash, 12 hex."""
    return keyed_digest("push", token)[:12]


def _box_profile(bid: uuid.UUID, token: str | None) -> tuple[uuid.UUID, int]:
    """(profile id, group id) of the open permanent box that ``token`` (its box token) opens.

    Only a box token registers: a one-time message token belongs to a QR code that anyone
    who saw it could scan, so it must not choose where the device's pushes go.
    """
    if not token or len(token) > 200:
        raise BoxNotOpened
    row = (
        Mailbox.objects.filter(
            pk=bid, kind=MailboxKind.PERMANENT, closed_at__isnull=True, profile__isnull=False
        )
        .values_list("token_hash", "profile_id", "group_id")
        .first()
    )
    # Compared in constant time; a revoked box (empty digest) matches nothing.
    if row is None or not token_matches(token, row[0]):
        raise BoxNotOpened
    assert row[1] is not None
    return row[1], row[2]


def _registration_answer(
    registration: PushRegistration, config: GroupPushSettings
) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "provider": registration.provider,
        "os": registration.os,
        "fingerprint": registration.fingerprint,
        "updated": registration.updated_at.isoformat().replace("+00:00", "Z"),
    }
    if registration.provider == PushProviderName.WEBPUSH:
        # What a browser or UnifiedPush distributor subscribes with (applicationServerKey).
        answer["vapidPublicKey"] = config.vapid_public
    return answer


def _register(
    *, profile_id: uuid.UUID, group_id: int, raw: object, prefix: str = ""
) -> tuple[PushRegistration, GroupPushSettings]:
    provider, token, os_name = parse_registration(
        raw, prefix=prefix, allow_http=settings.HERMOD_PUSH_ALLOW_HTTP
    )
    config = GroupPushSettings.objects.filter(group_id=group_id).first()
    if config is None or provider not in config.providers():
        field = f"{prefix}.provider" if prefix else "provider"
        raise PushRefused(
            "PUSH_PROVIDER_NOT_CONFIGURED",
            f"The group has no {provider} push configured.",
            field,
        )
    registration, _ = PushRegistration.objects.update_or_create(
        profile_id=profile_id,
        defaults={
            "provider": provider,
            "token_sealed": seal(PUSH_SECRET, token),
            "fingerprint": _fingerprint(token),
            "os": os_name,
        },
    )
    return registration, config


@transaction.atomic
def push_register(*, bid: uuid.UUID, token: str | None, raw: object) -> dict[str, Any]:
    """``PUT /ms/{bid}/push``: register or replace the push target of the box's profile."""
    profile_id, group_id = _box_profile(bid, token)
    registration, config = _register(profile_id=profile_id, group_id=group_id, raw=raw)
    return _registration_answer(registration, config)


def push_register_provisioned(*, profile: Profile, raw: object) -> bool:
    """``deviceinfo.push`` of an accepted provisioning answer: registered when valid and the
    group serves its provider, ignored otherwise (the device can PUT it later; push is never a
    reason to refuse a provisioning). Call inside the provisioning's transaction."""
    try:
        with transaction.atomic():
            _register(
                profile_id=profile.pk, group_id=profile.group_id, raw=raw, prefix="deviceinfo.push"
            )
    except (PushRefused, ValueError) as exc:
        logger.info("deviceinfo.push of profile %s not registered: %s", profile.pk, exc)
        return False
    return True


def push_unregister(*, bid: uuid.UUID, token: str | None) -> bool:
    """``DELETE /ms/{bid}/push``: the device no longer wants pushes (it polls). True if it had
    a registration."""
    profile_id, _ = _box_profile(bid, token)
    deleted, _ = PushRegistration.objects.filter(profile_id=profile_id).delete()
    return bool(deleted)


def push_forget(*, profile_id: uuid.UUID) -> None:
    """Drop a profile's registration because the device lost its box (profile deleted, box
    token revoked); its pending pushes then end SKIPPED. Call inside the caller's transaction."""
    PushRegistration.objects.filter(profile_id=profile_id).delete()


def push_registration_remove(*, profile: Profile, actor: Actor) -> bool:
    """An admin removes a profile's push registration (the device then polls)."""
    with transaction.atomic():
        deleted, _ = PushRegistration.objects.filter(profile=profile).delete()
        if deleted:
            audit_record(
                actor=actor,
                action="profile.remove_push",
                about=profile,
            )
    return bool(deleted)


# --- the outbox: written with the messages -----------------------------------------------------


def push_plan(*, group_id: int, messages: list[Message], ready: bool) -> list[PushDelivery]:
    """The push rows (unsaved) that freshly created messages to permanent boxes bring: PENDING
    when the messages are ``ready`` (visible), else WAITING for ``push_release``. Reads only:
    ``push_queue`` writes them, with their messages.

    A profile is pushed through the provider it registered; a profile without a registration
    (or whose provider the group no longer serves) through the group's relay when it has one,
    which is the real product's behaviour: the notification server knows every app's pushId.
    """
    waiting = [m for m in messages if m.profile_id is not None and m.state == MessageState.WAITING]
    if not waiting:
        return []
    config = sql.group_push_settings(group_id)
    available = config.providers() if config is not None else set()
    if not available:
        return []
    registered = dict(
        PushRegistration.objects.filter(profile_id__in={m.profile_id for m in waiting}).values_list(
            "profile_id", "provider"
        )
    )
    now = timezone.now()
    rows = []
    for message in waiting:
        assert message.profile_id is not None
        provider = registered.get(message.profile_id)
        if provider not in available:
            provider = PushProviderName.RELAY if PushProviderName.RELAY in available else None
        if provider is None:
            continue
        rows.append(
            PushDelivery(
                message=message,
                group_id=group_id,
                profile_id=message.profile_id,
                provider=provider,
                state=PushState.PENDING if ready else PushState.WAITING,
                max_attempts=settings.HERMOD_PUSH_ATTEMPTS,
                next_attempt_at=now if ready else None,
            )
        )
    return rows


def push_queue(*, rows: list[PushDelivery]) -> int:
    """Write the push rows of ``push_plan`` in the caller's transaction, the one that writes
    their messages; the PENDING ones are enqueued after commit."""
    created = PushDelivery.objects.bulk_create(rows)
    enqueue_pushes([row.pk for row in created if row.state == PushState.PENDING])
    return len(created)


def push_release(*, command_id: int) -> int:
    """The command's messages became visible (content resolved): their pushes are due."""
    ids = list(
        PushDelivery.objects.filter(
            message__command_id=command_id, state=PushState.WAITING
        ).values_list("pk", flat=True)
    )
    if ids:
        PushDelivery.objects.filter(pk__in=ids, state=PushState.WAITING).update(
            state=PushState.PENDING, next_attempt_at=timezone.now()
        )
        enqueue_pushes(ids)
    return len(ids)


# --- delivery (the worker) ---------------------------------------------------------------------


def retry_delay(attempts: int) -> timedelta:
    """HERMOD_PUSH_RETRY_DELAY doubled per failed attempt (at most 5 minutes), with jitter."""
    base = min(settings.HERMOD_PUSH_RETRY_DELAY * 2 ** max(attempts - 1, 0), 300)
    return timedelta(seconds=base * random.uniform(0.9, 1.1))


def _claim(push_id: int) -> PushDelivery | None:
    """Take the next attempt of a due push; None if another worker has it or it is not due.

    The conditional UPDATE moves ``next_attempt_at`` past the attempt's timeout: only the worker
    whose UPDATE matched sends, so one attempt never goes out twice at the same time, and a
    worker killed mid-send leaves a row that comes due again by itself (the sweep requeues it).
    """
    now = timezone.now()
    lease = now + timedelta(seconds=settings.HERMOD_PUSH_TIMEOUT) + LEASE_MARGIN
    won = PushDelivery.objects.filter(
        pk=push_id, state=PushState.PENDING, next_attempt_at__lte=now
    ).update(next_attempt_at=lease)
    if not won:
        return None
    return (
        PushDelivery.objects.select_related("message__command__client", "group__push_settings")
        .filter(pk=push_id)
        .first()
    )


@dataclass(frozen=True)
class _Plan:
    """What one attempt will do, decided before any network call."""

    skip: str = ""
    target: PushTarget | None = None
    fingerprint: str = ""
    notice: PushNotice | None = None


def _plan(delivery: PushDelivery) -> _Plan:
    message = delivery.message
    command: Command = message.command
    if message.state != MessageState.WAITING or command.state != CommandState.IN_PROGRESS:
        return _Plan(skip=f"the message is no longer waiting ({message.state})")
    registration = PushRegistration.objects.filter(profile_id=delivery.profile_id).first()
    if registration is not None and registration.provider == delivery.provider:
        token = unseal(PUSH_SECRET, registration.token_sealed)
        target = PushTarget(provider=registration.provider, token=token, os=registration.os)
        fingerprint = registration.fingerprint
    elif delivery.provider == PushProviderName.RELAY:
        # The relay maps pushId to the device itself: no registration needed.
        target, fingerprint = PushTarget(provider="relay", token="", os=""), ""
    else:
        return _Plan(skip="the device removed or changed its push registration")
    config: GroupPushSettings | None = getattr(delivery.group, "push_settings", None)
    requestor = (config.requestor if config is not None else "") or command.client.client_id
    notice = PushNotice(
        message_id=str(message.pk),
        push_id=str(delivery.profile_id),
        requestor=requestor,
        type=command.command_type,
    )
    return _Plan(target=target, fingerprint=fingerprint, notice=notice)


def push_deliver(*, push_id: int) -> str:
    """Make one attempt at a due push and record it; returns the push's state after."""
    delivery = _claim(push_id)
    if delivery is None:
        return "skipped"
    plan = _plan(delivery)
    if plan.skip:
        skipped = PushResult(PushOutcome.REJECTED, plan.skip)
        return _finish(delivery, PushState.SKIPPED, skipped, sent=False)
    assert plan.target is not None
    assert plan.notice is not None
    config = getattr(delivery.group, "push_settings", None)
    try:
        if config is None:
            raise ProviderUnavailable("the group has no push configured")
        provider = provider_build(config, delivery.provider)
    except ProviderUnavailable as exc:
        unavailable = PushResult(PushOutcome.REJECTED, str(exc))
        return _finish(delivery, PushState.FAILED, unavailable, sent=False)
    try:
        result = provider.send(plan.target, plan.notice)
    except Exception as exc:  # a provider must classify, but a bug in one never loses the row
        logger.exception("push provider %s raised", delivery.provider)
        result = PushResult(PushOutcome.RETRY, f"{exc.__class__.__name__} in the provider")
    return _record(delivery, result, plan.fingerprint)


def _record(delivery: PushDelivery, result: PushResult, fingerprint: str) -> str:
    attempts = delivery.attempts + 1
    if result.outcome is PushOutcome.DELIVERED:
        return _finish(delivery, PushState.DELIVERED, result)
    if result.outcome is PushOutcome.UNREGISTERED:
        with transaction.atomic():
            # Only the token that was refused: a device that registered anew meanwhile keeps it.
            PushRegistration.objects.filter(
                profile_id=delivery.profile_id, fingerprint=fingerprint
            ).exclude(fingerprint="").delete()
            return _finish(delivery, PushState.UNREGISTERED, result)
    if result.outcome is PushOutcome.REJECTED:
        logger.warning("push %s refused: %s", delivery.pk, result.detail)
        return _finish(delivery, PushState.FAILED, result)
    if attempts >= delivery.max_attempts:
        logger.warning(
            "push %s exhausted after %d attempts: %s", delivery.pk, attempts, result.detail
        )
        return _finish(delivery, PushState.EXHAUSTED, result)
    delay = retry_delay(attempts)
    asked = retry_after_in(result.detail)  # a provider's Retry-After (FCM, APNs): at least that
    if asked is not None and asked > delay.total_seconds():
        delay = timedelta(seconds=asked)
    with transaction.atomic():
        PushDelivery.objects.filter(pk=delivery.pk, state=PushState.PENDING).update(
            attempts=attempts,
            last_status=result.status,
            last_error=result.detail[:1000],
            next_attempt_at=timezone.now() + delay,
        )
        enqueue_push(delivery.pk, countdown=delay.total_seconds())
    return PushState.PENDING


def _finish(
    delivery: PushDelivery, state: PushState, result: PushResult, *, sent: bool = True
) -> str:
    """End a claimed push; ``sent``: an attempt reached (or tried to reach) the provider."""
    PushDelivery.objects.filter(pk=delivery.pk, state=PushState.PENDING).update(
        state=state,
        attempts=delivery.attempts + (1 if sent else 0),
        last_status=result.status,
        last_error="" if state == PushState.DELIVERED else result.detail[:1000],
        next_attempt_at=None,
        delivered_at=timezone.now() if state == PushState.DELIVERED else None,
    )
    return state.value


def pushes_requeue_lost(*, batch: int) -> int:
    """Enqueue pushes due for a while (their task was lost with a broker or a killed worker);
    end those still WAITING for a message that will never be shown (its content could not be
    resolved, it was withdrawn or expired before)."""
    never = list(
        PushDelivery.objects.filter(state=PushState.WAITING)
        .exclude(message__state=MessageState.WAITING)
        .values_list("pk", flat=True)[:batch]
    )
    if never:
        PushDelivery.objects.filter(pk__in=never, state=PushState.WAITING).update(
            state=PushState.SKIPPED, last_error="the message was never shown to the device"
        )
    cutoff = timezone.now() - LOST_AFTER
    ids = list(
        PushDelivery.objects.filter(state=PushState.PENDING, next_attempt_at__lte=cutoff)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:batch]
    )
    enqueue_pushes(ids)
    return len(ids)


# --- group settings (console and command line) -------------------------------------------------


@dataclass(frozen=True)
class PushSettingsChange:
    """What to change; ``None`` keeps a value. A secret given as "" is removed."""

    requestor: str | None = None
    relay_url: str | None = None
    relay_auth: str | None = None
    relay_credential: str | None = None
    webpush_enabled: bool | None = None
    vapid_subject: str | None = None
    vapid_rotate: bool = False
    fcm_service_account: str | None = None
    apns_key: str | None = None
    apns_key_id: str | None = None
    apns_team_id: str | None = None
    apns_topic: str | None = None
    apns_sandbox: bool | None = None


def _check_fcm(text: str) -> None:
    try:
        account = json.loads(text)
    except ValueError:
        raise PushConfigurationError("The FCM service account is not JSON.") from None
    needed = ("project_id", "client_email", "private_key")
    if not isinstance(account, dict) or any(not account.get(k) for k in needed):
        raise PushConfigurationError(
            "The FCM service account JSON needs project_id, client_email and private_key."
        )


def _check_apns(pem: str) -> None:
    try:
        key = load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        raise PushConfigurationError("The APNs key is not a PEM (.p8) private key.") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise PushConfigurationError("The APNs key must be the P-256 key of the .p8 file.")


def _check(change: PushSettingsChange) -> None:
    if change.relay_url and not is_http_url(change.relay_url):
        raise PushConfigurationError("The relay URL must be an absolute http(s) URL.")
    if change.relay_auth is not None and change.relay_auth not in RelayAuth.values:
        raise PushConfigurationError(f"Relay auth must be one of {', '.join(RelayAuth.values)}.")
    if (
        change.relay_auth == RelayAuth.BASIC
        and change.relay_credential
        and ":" not in change.relay_credential
    ):
        raise PushConfigurationError("Write the relay's basic auth as user:password.")
    if change.vapid_subject and not change.vapid_subject.startswith(("mailto:", "https://")):
        raise PushConfigurationError("The VAPID subject must be a mailto: or https: URL.")
    if change.fcm_service_account:
        _check_fcm(change.fcm_service_account)
    if change.apns_key:
        _check_apns(change.apns_key)


_PLAIN = (
    "requestor",
    "relay_url",
    "relay_auth",
    "webpush_enabled",
    "vapid_subject",
    "apns_key_id",
    "apns_team_id",
    "apns_topic",
    "apns_sandbox",
)
_SEALED = {
    "relay_credential": "relay_credential_sealed",
    "fcm_service_account": "fcm_service_account_sealed",
    "apns_key": "apns_key_sealed",
}


@transaction.atomic
def push_settings_set(
    *, group: Group, change: PushSettingsChange, actor: Actor
) -> GroupPushSettings:
    """Create or change a group's push settings; secrets are sealed, never shown back, and the
    audit row names the settings changed, never their values. Turning Web Push on creates the
    group's VAPID key pair (kept until ``vapid_rotate``)."""
    _check(change)
    config, _ = GroupPushSettings.objects.select_for_update().get_or_create(group=group)
    changed: list[str] = []
    for name in _PLAIN:
        value = getattr(change, name)
        if value is not None and value != getattr(config, name):
            setattr(config, name, value)
            changed.append(name)
    for name, column in _SEALED.items():
        value = getattr(change, name)
        if value is not None:
            setattr(config, column, seal(PUSH_SECRET, value) if value else "")
            changed.append(name)
    if config.relay_auth == RelayAuth.NONE and config.relay_credential_sealed:
        config.relay_credential_sealed = ""
    if config.relay_auth != RelayAuth.NONE and not config.relay_credential_sealed:
        raise PushConfigurationError("Relay auth needs its credential.")
    if config.webpush_enabled and (change.vapid_rotate or not config.vapid_private_sealed):
        private, public = vapid_keys_generate()
        config.vapid_private_sealed = seal(PUSH_SECRET, private)
        config.vapid_public = public
        changed.append("vapid_key")
    config.save()
    audit_record(
        actor=actor,
        action="group.push_settings",
        about=group,
        details={"changed": changed, "providers": sorted(config.providers())},
    )
    return config
