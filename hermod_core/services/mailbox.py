"""The device side (docs/PROTOCOL.md §6): opening a box with a token, fetching and answering
messages."""

import base64
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import BooleanField, ExpressionWrapper, Q
from django.utils import timezone

from hermod_core import sql
from hermod_core.crypto.certs import parse_certificate_der
from hermod_core.crypto.chains import ChainResult, verify_signer_chain
from hermod_core.crypto.digests import b64decode_strict
from hermod_core.crypto.signatures import DEFAULT_RAW_MECHANISM
from hermod_core.lifecycle import OPEN_DESTINATIONS, CaStep, State
from hermod_core.models import (
    AcceptedSignature,
    CaSettings,
    Certificate,
    Command,
    CommandState,
    ContentResolution,
    ContentResolutionState,
    EndUser,
    Key,
    Mailbox,
    MailboxKind,
    Message,
    MessageState,
    Profile,
    TrustedAttestationKey,
)
from hermod_core.protocol import answers
from hermod_core.protocol.commands import BY_TYPE, CommandType, parse_key_requests, sign_format
from hermod_core.protocol.content import content_refs, merge
from hermod_core.protocol.results import box_url, fqdn, iso, message_location
from hermod_core.selectors.profiles import profile_with_active_key, signer_cas_of_group
from hermod_core.services.commands import (
    command_transition,
    messages_transition,
    profile_delete,
)
from hermod_core.services.credentials import box_token_generate, token_hash, token_matches
from hermod_core.services.dispatch import enqueue_ca_enrollment
from hermod_core.services.push import push_register_provisioned

_OPEN = [s.value for s in OPEN_DESTINATIONS]


class BoxNotFound(Exception):
    """Unknown box, unknown message, or a wrong, used, withdrawn or expired token: all alike."""


class AlreadyAnswered(Exception):
    """The message was answered before (409)."""


def visible_messages(now: datetime) -> Q:
    """Live messages a device may list, fetch and answer: those whose content ids, if any, the
    content provider has resolved (docs/PROTOCOL.md §13). Until then the token opens the box, but
    the box looks empty."""
    return live_messages(now) & Q(command__content_ready=True)


def device_body(command: Command) -> dict[str, Any]:
    """The command object as a device receives it: the stored body (which keeps the content
    ids) with the provider's resolved content merged in (docs/PROTOCOL.md §13)."""
    endpoint = BY_TYPE[CommandType(command.command_type)]
    body: dict[str, Any] = command.body
    if not content_refs(command.command_type, body, endpoint.body_key):
        return body
    resolved = (
        ContentResolution.objects.filter(command_id=command.pk, state=ContentResolutionState.DONE)
        .values_list("resolved", flat=True)
        .first()
    )
    return merge(body, resolved or [])


def live_messages(now: datetime) -> Q:
    """Messages whose token still opens their box: open, command in progress and not past due.

    The times are checked here too, so a token dies exactly at its deadline even before the
    expiry sweep has run.
    """
    return (
        Q(state__in=_OPEN)
        & Q(command__state=CommandState.IN_PROGRESS)
        & Q(command__expires_at__gt=now)
        & (Q(state=MessageState.FETCHED) | Q(expires_at__gt=now))
    )


@dataclass(frozen=True)
class BoxAccess:
    """What a token opens: a whole permanent box (box token) or, for a destination's one-time
    token, only that destination's message in its box (``message_id``, decided): a plug-out link
    shown in a browser must not expose the other messages of a profile's box.

    For a one-time token ``message`` is that message as ``mailbox_open`` read it, with its command
    and profile, and ``live`` says whether its token still opened the box then: the list, fetch
    and answer of the same request use it instead of reading the row again.
    """

    mailbox_id: uuid.UUID
    message_id: uuid.UUID | None = None
    message: Message | None = field(default=None, compare=False, repr=False)
    live: bool = field(default=False, compare=False, repr=False)

    def allows(self, mid: uuid.UUID) -> bool:
        return self.message_id is None or self.message_id == mid

    def preloaded(self, mid: uuid.UUID) -> Message | None:
        """The message ``mid`` if the opening already read it."""
        if self.message is not None and self.message.pk == mid:
            return self.message
        return None


def _box_token_opens(bid: uuid.UUID, token: str) -> bool:
    """Whether ``token`` is the box token of the open permanent box ``bid``.

    The most frequent statement of the device API (every list, fetch and answer with a box token),
    so a tuned statement (``hermod_core.sql``). The stored digest is compared in constant time; a
    revoked token (empty digest) matches nothing.
    """
    stored = sql.open_box_token_hash(bid)
    return stored is not None and token_matches(token, stored)


def mailbox_open(*, bid: uuid.UUID, token: str | None, for_answer: bool = False) -> BoxAccess:
    """The box a token opens (a destination's one-time token or a permanent box's box token)."""
    if not token or len(token) > 200:
        raise BoxNotFound
    # Box tokens first: provisioned devices polling their box are the most frequent callers.
    if _box_token_opens(bid, token):
        return BoxAccess(mailbox_id=bid)
    # A one-time token is found by its keyed digest (unique, indexed): the lookup compares
    # digests of random tokens, so its timing tells nothing about any token.
    message = (
        Message.objects.filter(token_hash=token_hash(token), mailbox_id=bid)
        .annotate(live=ExpressionWrapper(live_messages(timezone.now()), BooleanField()))
        .select_related("command", "profile")
        .first()
    )
    if message is None:
        raise BoxNotFound
    access = BoxAccess(mailbox_id=bid, message_id=message.pk, message=message, live=message.live)
    if message.live:
        return access
    if for_answer and message.state == MessageState.ANSWERED:
        return access  # a second answer to its own message gets 409, not 404
    raise BoxNotFound


def box_token_rotate(*, bid: uuid.UUID, token: str | None) -> str:
    """A new box token for the permanent box that ``token`` opens; the old one dies at once.

    Only a box token rotates (a one-time token gets ``BoxNotFound``, as any token that does not
    open the box). The swap is a conditional UPDATE on the old digest: of two rotations with the
    same token one wins, the other gets ``BoxNotFound`` (its token is already dead).
    """
    if not token or len(token) > 200 or not _box_token_opens(bid, token):
        raise BoxNotFound
    new = box_token_generate()
    swapped = Mailbox.objects.filter(
        pk=bid, kind=MailboxKind.PERMANENT, closed_at__isnull=True, token_hash=token_hash(token)
    ).update(token_hash=token_hash(new))
    if not swapped:
        raise BoxNotFound
    return new


def _expires(message: Message) -> datetime:
    if message.state == MessageState.FETCHED:
        return message.command.expires_at
    return min(message.expires_at, message.command.expires_at)


def mailbox_list(*, access: BoxAccess) -> dict[str, Any]:
    """``GET /ms/{bid}``: the messages waiting in the box, oldest first."""
    public_url = settings.HERMOD_PUBLIC_URL
    bid = str(access.mailbox_id)
    messages: Iterable[Message]
    if access.message is not None:
        # A one-time token: only its message, as read when the box was opened.
        messages = [access.message] if access.live and access.message.command.content_ready else []
    else:
        messages = (
            Message.objects.filter(visible_messages(timezone.now()), mailbox_id=access.mailbox_id)
            .select_related("command")
            .only("id", "state", "expires_at", "command__command_type", "command__expires_at")
            .order_by("created_at", "id")
        )
        if access.message_id is not None:
            messages = messages.filter(pk=access.message_id)
    return {
        "bid": bid,
        "messages": [
            {
                "mid": str(m.id),
                "location": message_location(public_url, bid, str(m.id)),
                "commandType": m.command.command_type,
                "expires": iso(_expires(m)),
            }
            for m in messages
        ],
    }


def message_fetch(*, access: BoxAccess, mid: uuid.UUID) -> dict[str, Any]:
    """``GET /ms/{bid}/{mid}``: the message, marked FETCHED (so its lifespan no longer applies)."""
    now = timezone.now()
    if not access.allows(mid):
        raise BoxNotFound
    # A one-time token's message was read, live, when the box was opened.
    preloaded = access.preloaded(mid) if access.live else None
    if preloaded is not None and not preloaded.command.content_ready:
        raise BoxNotFound  # hidden until its content is resolved (§13)
    message = preloaded or (
        Message.objects.filter(visible_messages(now), pk=mid, mailbox_id=access.mailbox_id)
        .select_related("command")
        .first()
    )
    if message is None:
        raise BoxNotFound
    if message.state == MessageState.WAITING:
        messages_transition(where=Q(pk=mid), to=MessageState.FETCHED, fetched_at=now)
        message.state = MessageState.FETCHED
    command = message.command
    public_url = settings.HERMOD_PUBLIC_URL
    bid = str(access.mailbox_id)
    endpoint = BY_TYPE[CommandType(command.command_type)]
    body: dict[str, Any] = {
        "messageHeader": {
            "mid": str(mid),
            "bid": bid,
            "location": message_location(public_url, bid, str(mid)),
            "commandId": str(command.pk),
            "commandType": command.command_type,
            "fqdn": fqdn(public_url),
            "expires": iso(_expires(message)),
        },
        endpoint.body_key: device_body(command),
    }
    if command.command_type == CommandType.PROV:
        assert command.assigned_box_id is not None
        # The box token is not here: only the device whose answer is accepted receives it.
        body["assigned"] = {
            "profileid": str(command.assigned_profile_id),
            "boxurl": box_url(public_url, str(command.assigned_box_id)),
        }
    return body


# --- answers -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnswerOutcome:
    """What the device is told: the command's state, or the rule its answer broke (422), and
    for an accepted provisioning the new permanent box's token (shown once, docs/PROTOCOL.md §6)."""

    state: str
    rejected: answers.AnswerRejected | None = None
    boxtoken: str | None = None


def _provision(command: Command, envelope: answers.Envelope) -> str:
    """Record the provisioned profile, its keys and box; returns the new box token."""
    profile_body = command.body["profile"]
    assert command.assigned_profile_id is not None
    assert command.assigned_box_id is not None
    expected = answers.ProvisionExpectation(
        nonce=command.body["nonce"],
        userid=command.body["userid"],
        servername=profile_body["servername"],
        name=profile_body["name"],
        key_requests=parse_key_requests(profile_body, "provCommand.profile"),
        public_url=settings.HERMOD_PUBLIC_URL,
        assigned_profile_id=command.assigned_profile_id,
        assigned_box_id=command.assigned_box_id,
        trusted_thumbprints=frozenset(
            TrustedAttestationKey.objects.filter(group_id=command.group_id).values_list(
                "thumbprint", flat=True
            )
        ),
    )
    result = answers.validate_provision(envelope, expected)
    if result.reported_own_ids and (
        Profile.objects.filter(pk=result.profile_id).exists()
        or Mailbox.objects.filter(pk=result.box_id).exists()
    ):
        raise answers.AnswerRejected(
            "PROFILE_ID_TAKEN", "The profile id or box URL the device reported is already in use."
        )
    user, _ = EndUser.objects.get_or_create(group_id=command.group_id, userid=expected.userid)
    vscinfo = command.body.get("vscinfo") or {}
    profile = Profile.objects.create(
        id=result.profile_id,
        group_id=command.group_id,
        user=user,
        name=expected.name,
        servername=expected.servername,
        device_info=result.device_info,
        attestation_jwk=result.attestation_jwk,
        attestation_thumbprint=result.attestation_thumbprint,
        smartcard_id=str(vscinfo.get("smartcardid") or ""),
        vscinfo={k: v for k, v in vscinfo.items() if k == "smartcardid"},
        desktop_extensions=command.body.get("desktopExtensions") or [],
        desktop_key_protection_level=command.body.get("desktopKeyProtectionLevel") or "",
        created_by_command=command,
    )
    boxtoken = box_token_generate()
    Mailbox.objects.create(
        id=result.box_id,
        group_id=command.group_id,
        kind=MailboxKind.PERMANENT,
        profile=profile,
        token_hash=token_hash(boxtoken),
    )
    if result.push is not None:
        push_register_provisioned(profile=profile, raw=result.push)
    Key.objects.bulk_create(
        Key(
            profile=profile,
            keyid=k.keyid,
            usage=k.usage,
            keytype=k.keytype,
            keylength=k.keylength,
            keystate=k.keystate,
            jwk=k.jwk,
            thumbprint=k.thumbprint,
            certreq=k.certreq,
        )
        for k in result.keys
    )
    command.profile_id = profile.pk
    ca = CaSettings.objects.filter(group_id=command.group_id, enabled=True).first()
    if ca is not None:
        # The provisioning callback waits for the certificates (services.ca releases it).
        Command.objects.filter(pk=command.pk).update(
            ca_state=CaStep.PENDING, ca_next_attempt_at=timezone.now()
        )
        enqueue_ca_enrollment(command.pk)
    return boxtoken


def _signing_candidates(command: Command, profile: Profile) -> tuple[answers.SigningKey, ...]:
    params = command.body.get("params") or {}
    filter_ = params.get("filter") or {}
    # Read for every signed answer: a tuned statement, as _box_token_opens.
    keys = sql.active_keys(profile.pk)
    attribute = {"key.type": "keytype", "key.usage": "usage", "key.id": "keyid"}.get(
        filter_.get("param", "")
    )
    if attribute and filter_.get("value") is not None:
        keys = [k for k in keys if getattr(k, attribute) == filter_["value"]]
    return tuple(answers.SigningKey(keyid=k.keyid, jwk=k.jwk) for k in keys)


def _sign(command: Command, message: Message, envelope: answers.Envelope) -> None:
    """Verify an auth/sign answer, refuse a replayed signature, and record what was established
    (``Command.signature``: the result body's ``verification``, ``signer``, ``profile``)."""
    # The device signed the tbs it received: resolved content, not the ids (§13).
    params = device_body(command).get("params") or {}
    tbs = tuple(
        b64decode_strict(item["data"]) for item in params.get("tbs") or [] if isinstance(item, dict)
    )
    format_ = sign_format(params)
    if message.profile is None:
        # A profile-less @tmp command: whichever app opened the plug-out link answered.
        _sign_profileless(command, envelope, tbs, format_)
        return
    verified = answers.validate_signature(
        envelope,
        command_id=command.pk,
        tbs=tbs,
        format_=format_,
        candidates=_signing_candidates(command, message.profile),
        created_at=command.created_at,
        now=timezone.now(),
        mechanism=str(params.get("mechanism") or DEFAULT_RAW_MECHANISM),
    )
    _record_signature(profile=message.profile, fingerprint=verified.fingerprint)
    # Written by the completing transition's UPDATE (_decide), like a provisioning's profile id.
    command.signature = {"verification": verified.verification, "format": format_}


def _signer_summary(certificate: x509.Certificate, chain: ChainResult) -> dict[str, Any]:
    parsed = parse_certificate_der(certificate.public_bytes(serialization.Encoding.DER))
    summary: dict[str, Any] = {
        "certificate": base64.b64encode(parsed.der).decode("ascii"),
        "subject": parsed.subject,
        "issuer": parsed.issuer,
        "serialNumber": str(parsed.serial_number),
        "sha256": parsed.sha256_fingerprint,
        "verified": chain.verified,
    }
    if not chain.verified:
        summary["reason"] = chain.reason
    return summary


def _sign_profileless(
    command: Command, envelope: answers.Envelope, tbs: tuple[bytes, ...], format_: str
) -> None:
    """The answer to a profile-less ``@tmp`` auth/sign command (docs/PROTOCOL.md §6.3, decided).

    Verified against the certificate it carries and bound to the command like any answer. When
    the group trusts signer CAs the certificate must chain to one of them (else
    SIGNER_NOT_TRUSTED); without any, the result says ``"verified": false, "reason": "unverified
    signer"``. A signing key that is an active key of one of the group's profiles names that
    profile. The replay record is keyed by the signing key's thumbprint (and by the matched
    profile too, so a profile's signature is refused here as it is on its own commands).
    """
    now = timezone.now()
    result = answers.validate_profileless_signature(
        envelope,
        command_id=command.pk,
        tbs=tbs,
        format_=format_,
        created_at=command.created_at,
        now=now,
    )
    record: dict[str, Any] = {"verification": result.verification, "format": format_}
    profile = None
    if result.certificate is not None:
        trusted = signer_cas_of_group(group_id=command.group_id)
        chain = verify_signer_chain(result.certificate, result.intermediates, trusted, at=now)
        if trusted and not chain.verified:
            raise answers.AnswerRejected(
                "SIGNER_NOT_TRUSTED", f"The signer is not trusted: {chain.reason}."
            )
        record["signer"] = _signer_summary(result.certificate, chain)
        profile = profile_with_active_key(group_id=command.group_id, thumbprint=result.signer)
    if profile is not None:
        record["profile"] = {
            "id": str(profile.pk),
            "userid": profile.user.userid,
            "name": profile.name,
            "servername": profile.servername,
        }
        command.profile_id = profile.pk
    _record_signature(profile=profile, signer=result.signer, fingerprint=result.fingerprint)
    command.signature = record


def _record_signature(
    *, profile: Profile | None, fingerprint: str, signer: str | None = None
) -> None:
    """Remember a signature value accepted for the profile (and, for a profile-less answer, for
    its ``signer`` key); refuse one accepted before (§6.3).

    Race-free without a look-up: the unique constraints decide. Of two answers carrying the same
    signature, the second INSERT waits for the first's transaction and fails once it commits
    (or succeeds if it rolled back). The savepoint turns exactly that IntegrityError into
    SIGNATURE_REPLAYED here, so the command ends FAILED like after any rejection, and keeps it
    apart from the IntegrityError ``answer_accept`` maps to PROFILE_ID_TAKEN. The rows belong to
    the transaction that completes the command: if the completion loses, they are rolled back too.
    """
    try:
        with transaction.atomic():
            if signer is not None:
                AcceptedSignature.objects.create(profile=None, signer=signer, sha256=fingerprint)
            if profile is not None:
                AcceptedSignature.objects.create(profile=profile, sha256=fingerprint)
    except IntegrityError:
        raise answers.AnswerRejected(
            "SIGNATURE_REPLAYED", "This signature was already accepted for an earlier command."
        ) from None


def _ping(command: Command, message: Message, envelope: answers.Envelope) -> None:
    result = answers.validate_ping(envelope)
    if message.profile is not None and result.device_info is not None:
        Profile.objects.filter(pk=message.profile.pk).update(device_info=result.device_info)


def _certificate(command: Command, message: Message) -> None:
    profile = message.profile
    if profile is None:
        return
    keys = {k.keyid: k for k in profile.keys.all()}
    certificates = []
    for item in command.body.get("certificates") or []:
        key = keys.get(item.get("keyid"))
        if key is None:
            continue
        parsed = parse_certificate_der(b64decode_strict(item["data"]))
        certificates.append(
            Certificate(
                profile=profile,
                key=key,
                sha256=parsed.sha256_fingerprint,
                source=Certificate.Source.COMMAND,
                der_b64="".join(item["data"].split()),
                subject=parsed.subject,
                issuer=parsed.issuer,
                serial=str(parsed.serial_number),
                not_before=parsed.not_before,
                not_after=parsed.not_after,
            )
        )
    # One INSERT … ON CONFLICT DO NOTHING: a certificate the key already has (certificate_unique_
    # per_key, also one stored concurrently or listed twice) is kept as it is.
    Certificate.objects.bulk_create(certificates, ignore_conflicts=True)


def _apply(command: Command, message: Message, envelope: answers.Envelope) -> str | None:
    """Validate a successful answer and record what it establishes (raises AnswerRejected).

    Returns the new box token of an accepted provisioning, None otherwise.
    """
    kind = CommandType(command.command_type)
    if kind is CommandType.PROV:
        return _provision(command, envelope)
    if kind in (CommandType.AUTH, CommandType.SIGN):
        _sign(command, message, envelope)
    elif kind is CommandType.PING:
        _ping(command, message, envelope)
    elif kind is CommandType.SPIN:
        answers.validate_spin(envelope)
    elif kind is CommandType.CERT:
        _certificate(command, message)
    elif kind is CommandType.DELETE and message.profile is not None:
        profile_delete(profile=message.profile)
    return None


def answer_accept(*, access: BoxAccess, mid: uuid.UUID, raw: Any) -> AnswerOutcome:
    """``POST /ms/{bid}/{mid}``: check and record a device's answer (docs/PROTOCOL.md §6).

    The message is claimed with a conditional UPDATE (open → ANSWERED): of two answers to the same
    message exactly one proceeds, the other gets 409. The command then ends through
    ``command_transition``; if it lost a race (expired meanwhile) everything rolls back and the
    device gets 404, as for any dead token.
    """
    message = access.preloaded(mid) or (
        Message.objects.filter(pk=mid, mailbox_id=access.mailbox_id)
        .select_related("command", "profile")
        .first()
    )
    if message is None or not access.allows(mid):
        raise BoxNotFound
    if message.state == MessageState.ANSWERED:
        raise AlreadyAnswered
    command = message.command
    endpoint = BY_TYPE[CommandType(command.command_type)]
    envelope = answers.parse_envelope(raw, endpoint.answer_key)  # 400: nothing consumed
    public_url = settings.HERMOD_PUBLIC_URL
    location = message_location(public_url, str(access.mailbox_id), str(mid))
    now = timezone.now()
    try:
        with transaction.atomic():
            claimed = messages_transition(
                where=visible_messages(now) & Q(pk=mid), to=MessageState.ANSWERED, answered_at=now
            )
            if not claimed:
                if Message.objects.filter(pk=mid, state=MessageState.ANSWERED).exists():
                    raise AlreadyAnswered
                raise BoxNotFound
            return _decide(command, message, envelope, location)
    except IntegrityError:
        # A device-reported profile id or box id taken by a concurrent provisioning. (A replayed
        # signature's IntegrityError never gets here: _record_signature handles it in its
        # savepoint.)
        return _reject_answer(
            command,
            envelope,
            answers.AnswerRejected("PROFILE_ID_TAKEN", "The reported profile id is in use."),
            mid,
        )


def _decide(
    command: Command, message: Message, envelope: answers.Envelope, location: str
) -> AnswerOutcome:
    if envelope.in_reply_to != location:
        rejected = answers.AnswerRejected(
            "IN_REPLY_TO_MISMATCH", "responseHeader.inReplyTo is not this message's location."
        )
        return _fail(command, envelope, rejected)
    if envelope.code != 0:
        code, reason = answers.device_failure(envelope.code)
        if not command_transition(
            command_id=command.pk,
            to=State.FAILED,
            failure_code=code,
            failure_reason=reason,
            answer=envelope.raw,
        ):
            raise BoxNotFound
        return AnswerOutcome(state=State.FAILED.value)
    try:
        with transaction.atomic():
            boxtoken = _apply(command, message, envelope)
            if not command_transition(
                command_id=command.pk,
                to=State.COMPLETED,
                answer=envelope.raw,
                profile_id=command.profile_id,
                signature=command.signature,
            ):
                raise BoxNotFound
    except answers.AnswerRejected as rejected:
        return _fail(command, envelope, rejected)
    return AnswerOutcome(state=State.COMPLETED.value, boxtoken=boxtoken)


def _fail(
    command: Command, envelope: answers.Envelope, rejected: answers.AnswerRejected
) -> AnswerOutcome:
    if not command_transition(
        command_id=command.pk,
        to=State.FAILED,
        failure_code=rejected.code,
        failure_reason=rejected.message,
        answer=envelope.raw,
    ):
        raise BoxNotFound
    return AnswerOutcome(state=State.FAILED.value, rejected=rejected)


def _reject_answer(
    command: Command, envelope: answers.Envelope, rejected: answers.AnswerRejected, mid: uuid.UUID
) -> AnswerOutcome:
    with transaction.atomic():
        messages_transition(where=Q(pk=mid), to=MessageState.ANSWERED, answered_at=timezone.now())
        return _fail(command, envelope, rejected)
