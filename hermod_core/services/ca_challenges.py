"""One-time SCEP challenges: minted into CSR templates, checked when the CA asks (docs/PROTOCOL.md
§10).

The CA's own enrolment secret never leaves the server. In the ``one-time`` mode each CSR template
of a provisioning carries a fresh random challenge; only its keyed hash is stored
(``CaChallenge``). The group's CA hands the challenge back — inside the CSR, through the
``hermod-scep-verify`` executable or its own HTTP call — authenticated by the group's verifier
credential, and Hermod answers whether it may issue.

A challenge verifies only while its command's CA step is running: the provisioning was accepted
(COMPLETED) and its ``ca_state`` is PENDING, before a deadline. So it is worthless to whoever
scans the QR code before the device answers, and dead once the command expired, failed, was
cancelled, or its CA step ended. A CSR must also carry the very public key (and subject) the
device proved in its accepted answer for that key request.
"""

import base64
import copy
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from django.db import transaction
from django.utils import timezone

from hermod_core.crypto.csr import (
    ParsedCsr,
    csr_challenge_password,
    parse_csr_b64,
    parse_csr_der,
    subjects_equal,
    template_with_challenge,
)
from hermod_core.crypto.errors import CryptoError
from hermod_core.crypto.jwk import thumbprint
from hermod_core.lifecycle import CaStep
from hermod_core.models import (
    CaChallenge,
    CaSettings,
    ChallengeMode,
    Command,
    CommandState,
    Group,
    Key,
)
from hermod_core.services.audit import Actor, audit_record
from hermod_core.services.credentials import (
    ca_challenge_generate,
    ca_challenge_hash,
    ca_verifier_generate,
    ca_verifier_hash,
)
from hermod_core.services.errors import ServiceError

logger = logging.getLogger("hermod.ca")

# How long after its command's deadline a CA step may still run before the sweep gives it up
# (services.ca); a challenge lives exactly as long.
CA_STEP_GRACE = timedelta(minutes=10)
# challengePassword is a DirectoryString of at most 255 characters (RFC 2985 §5.4.1).
MAX_CHALLENGE_CHARS = 255


@dataclass(frozen=True)
class MintedChallenge:
    keyid: str
    challenge_hash: str


@dataclass(frozen=True)
class ChallengeAccepted:
    """A challenge the CA may issue for: its command and key request."""

    command_id: int
    keyid: str
    first_use: bool


class ChallengeRefused(Exception):
    """The challenge does not allow an issuance. ``reason`` is for the log only: the CA gets
    one answer for every refusal (no oracle on which challenges exist)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ChallengeRequestError(Exception):
    """The verification request itself is malformed (no challenge, a CSR that does not parse)."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


def ca_challenges_mint(
    *, group_id: int, body: dict[str, Any]
) -> tuple[dict[str, Any], list[MintedChallenge]]:
    """A provisioning body whose CSR templates carry what the group's CA needs, and the one-time
    challenges minted for them (to be recorded with ``ca_challenges_record``).

    ``one-time``: each template gets its own fresh challenge. ``static`` (the warned opt-in): each
    gets the CA's password, as before. ``none``, or no enabled CA: the body is unchanged.
    """
    ca = CaSettings.objects.filter(group_id=group_id, enabled=True).first()
    if ca is None or ca.challenge_mode == ChallengeMode.NONE:
        return body, []
    if ca.challenge_mode == ChallengeMode.STATIC and not ca.sends_static_password:
        return body, []
    body = copy.deepcopy(body)
    minted = []
    # One throw-away key signs all of this command's templates (it is discarded, never a secret).
    throw_away = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for request in body["profile"]["keygenrequests"]:
        if ca.challenge_mode == ChallengeMode.STATIC:
            challenge = ca.challenge_password
        else:
            challenge = ca_challenge_generate()
            minted.append(MintedChallenge(str(request["keyid"]), ca_challenge_hash(challenge)))
        request["certreq"] = template_with_challenge(request["certreq"], challenge, key=throw_away)
    return body, minted


def ca_challenges_record(*, command: Command, minted: list[MintedChallenge]) -> None:
    """Store the digests of a new command's one-time challenges (same transaction as it)."""
    expires_at = command.expires_at + CA_STEP_GRACE
    # A list, not a generator: bulk_create() of an empty list is no statement at all.
    CaChallenge.objects.bulk_create(
        [
            CaChallenge(
                command=command,
                group_id=command.group_id,
                keyid=item.keyid,
                challenge_hash=item.challenge_hash,
                expires_at=expires_at,
            )
            for item in minted
        ]
    )


def _parse_request(challenge: str | None, csr_b64: str | None) -> tuple[str, ParsedCsr | None]:
    parsed = None
    if csr_b64 is not None:
        try:
            parsed = parse_csr_b64(csr_b64)
        except CryptoError:
            raise ChallengeRequestError(
                "CSR_INVALID", "The csr is not a base64 DER PKCS#10 request.", "csr"
            ) from None
        if not parsed.signature_valid:
            raise ChallengeRequestError("CSR_BAD_SIGNATURE", "The csr's signature does not verify.")
        carried = csr_challenge_password(parsed)
        if carried is None:
            raise ChallengeRequestError(
                "CSR_WITHOUT_CHALLENGE", "The csr carries no challengePassword.", "csr"
            )
        if challenge is not None and challenge != carried:
            raise ChallengeRequestError(
                "CHALLENGE_MISMATCH", "The challenge is not the one the csr carries.", "challenge"
            )
        challenge = carried
    if not challenge:
        raise ChallengeRequestError("MISSING_FIELD", "Send the csr or the challenge.", "csr")
    if len(challenge) > MAX_CHALLENGE_CHARS:
        raise ChallengeRequestError("CHALLENGE_INVALID", "The challenge is too long.", "challenge")
    return challenge, parsed


def _check_csr(command: Command, keyid: str, parsed: ParsedCsr) -> str:
    """The thumbprint of the CSR's key, if it is the key (and subject) the device proved."""
    key = None
    if command.profile_id is not None:
        key = Key.objects.filter(profile_id=command.profile_id, keyid=keyid).first()
    if key is None:
        raise ChallengeRefused("the command has no such key")
    presented = thumbprint(parsed.public_key)
    if presented != key.thumbprint:
        raise ChallengeRefused("the CSR's public key is not the device's key")
    if not subjects_equal(parsed, parse_csr_der(base64.b64decode(key.certreq))):
        raise ChallengeRefused("the CSR's subject is not the template's subject")
    return presented


def ca_challenge_verify(
    *, ca: CaSettings, challenge: str | None = None, csr_b64: str | None = None
) -> ChallengeAccepted:
    """Whether the group's CA may issue for a one-time challenge; consumes it on first use.

    Accepted only when the challenge exists, belongs to ``ca``'s group, is before its deadline,
    its command is COMPLETED with its CA step PENDING, and — when a CSR is given — the CSR is
    signed by the public key the device proved for that key request and has its subject. The
    first acceptance consumes the challenge and binds it to that key (conditional UPDATE on
    ``consumed_at IS NULL``: of two racing verifications exactly one binds); later ones are
    accepted only with a CSR of the same key — the same enrolment retried (PENDING/CertPoll,
    a transient error). A challenge consumed without a CSR (the CA sent only the challenge)
    never verifies again. Raises ``ChallengeRefused`` or ``ChallengeRequestError``.
    """
    challenge, parsed = _parse_request(challenge, csr_b64)
    row = (
        CaChallenge.objects.select_related("command")
        .filter(challenge_hash=ca_challenge_hash(challenge))
        .first()
    )
    if row is None:
        raise ChallengeRefused("unknown challenge")
    if row.group_id != ca.group_id:
        raise ChallengeRefused(f"the challenge belongs to group {row.group_id}")
    now = timezone.now()
    if now >= row.expires_at:
        raise ChallengeRefused("the challenge is past its deadline")
    command = row.command
    if command.state != CommandState.COMPLETED or command.ca_state != CaStep.PENDING:
        raise ChallengeRefused(
            f"command {command.pk} is {command.state}, CA step {command.ca_state or 'none'}"
        )
    bound = _check_csr(command, row.keyid, parsed) if parsed is not None else ""
    with transaction.atomic():
        # Whoever sets consumed_at owns the first use; the loser re-reads what was bound.
        first = bool(
            CaChallenge.objects.filter(pk=row.pk, consumed_at__isnull=True).update(
                consumed_at=now, bound_key_thumbprint=bound
            )
        )
        if first:
            audit_record(
                actor=Actor.system("ca"),
                action="ca.challenge_consumed",
                about=command,
                details={"keyid": row.keyid, "with_csr": bool(bound)},
            )
    if not first:
        row.refresh_from_db(fields=["bound_key_thumbprint"])
        if not bound or row.bound_key_thumbprint != bound:
            raise ChallengeRefused("the challenge was already used by another request")
    return ChallengeAccepted(command_id=command.pk, keyid=row.keyid, first_use=first)


def ca_settings_locked(group: Group) -> CaSettings:
    """The group's CA settings, locked for the change its caller makes (the verifier, the RA
    identity); refused while the group has none."""
    ca = CaSettings.objects.select_for_update().filter(group=group).first()
    if ca is None:
        raise ServiceError("Save the CA's SCEP URL first.")
    return ca


@transaction.atomic
def ca_verifier_rotate(*, group: Group, actor: Actor) -> str:
    """A new verifier credential for the group's CA; returned once, only its digest is stored.

    The previous credential stops working at once. Raises ``ServiceError`` when the group has
    no CA.
    """
    ca = ca_settings_locked(group)
    credential = ca_verifier_generate()
    ca.verifier_hash = ca_verifier_hash(credential)
    ca.verifier_created_at = timezone.now()
    ca.save(update_fields=["verifier_hash", "verifier_created_at", "updated_at"])
    audit_record(
        actor=actor,
        action="group.ca_verifier",
        about=group,
        details={"rotated": True},
    )
    return credential
