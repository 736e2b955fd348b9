"""A device's answer to a message (docs/PROTOCOL.md §6): checked, recorded, and the command
ended through ``command_transition``."""

import base64
import uuid
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from hermod_core import sql
from hermod_core.crypto.certs import parse_certificate_der
from hermod_core.crypto.chains import ChainResult, verify_signer_chain
from hermod_core.crypto.digests import b64decode_strict
from hermod_core.crypto.signatures import DEFAULT_RAW_MECHANISM
from hermod_core.lifecycle import CaStep, State
from hermod_core.models import (
    AcceptedSignature,
    CaSettings,
    Certificate,
    Command,
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
from hermod_core.protocol.results import message_location
from hermod_core.selectors.mailbox import (
    BoxAccess,
    BoxNotFound,
    device_command_body,
    message_get_for_answer,
)
from hermod_core.selectors.profiles import profile_with_active_key, signer_cas_of_group
from hermod_core.services.commands import (
    command_transition,
    message_answer_claim,
    messages_transition,
    profile_delete,
)
from hermod_core.services.credentials import box_token_generate, token_hash
from hermod_core.services.dispatch import enqueue_ca_enrollment
from hermod_core.services.push import push_register_provisioned


class AlreadyAnswered(Exception):
    """The message was answered before (409)."""


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
    # Read for every signed answer: a tuned statement, as selectors.mailbox.box_token_opens.
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
    params = device_command_body(command).get("params") or {}
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
    signature, the second INSERT waits for the first's transaction and finds the conflict once
    it commits (or inserts, if it rolled back); the INSERT does nothing on a conflict
    (``sql.accepted_signature_add``), so no savepoint is needed, and SIGNATURE_REPLAYED ends
    the command FAILED like any rejection (``_decide``'s savepoint drops a row written before).
    The rows belong to the transaction that completes the command: if the completion loses,
    they are rolled back too.
    """
    rows = []
    if signer is not None:
        rows.append(AcceptedSignature(profile=None, signer=signer, sha256=fingerprint))
    if profile is not None:
        rows.append(AcceptedSignature(profile=profile, sha256=fingerprint))
    for row in rows:
        if not sql.accepted_signature_add(row):
            raise answers.AnswerRejected(
                "SIGNATURE_REPLAYED", "This signature was already accepted for an earlier command."
            )


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
    message = message_get_for_answer(access=access, mid=mid)
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
            if not message_answer_claim(mid=mid, now=now):
                if Message.objects.filter(pk=mid, state=MessageState.ANSWERED).exists():
                    raise AlreadyAnswered
                raise BoxNotFound
            return _decide(command, message, envelope, location)
    except IntegrityError:
        # A device-reported profile id or box id taken by a concurrent provisioning. (A replayed
        # signature raises no IntegrityError: _record_signature's INSERT does nothing then.)
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
