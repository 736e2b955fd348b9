"""Device answers (docs/PROTOCOL.md §6): the envelope, and the validation of each answer type.

Pure: every rule is checked against values the caller passes in; nothing here reads the database.
A broken rule raises ``AnswerRejected`` with a code naming the rule; the caller ends the command
FAILED with that reason and changes nothing else.
"""

import hashlib
import json
import math
import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import urlsplit

from cryptography import x509

from hermod_core.crypto import jwk as jwks
from hermod_core.crypto import jws
from hermod_core.crypto.certs import parse_certificate_b64
from hermod_core.crypto.cms import VerifiedCms, verify_signed_data
from hermod_core.crypto.csr import parse_csr_b64, verify_csr_signature
from hermod_core.crypto.digests import b64decode_strict, b64url_sha256
from hermod_core.crypto.errors import CryptoError
from hermod_core.crypto.signatures import (
    DEFAULT_RAW_MECHANISM,
    signature_fingerprint,
    verify_raw_rsa,
)
from hermod_core.protocol.commands import KeyRequest
from hermod_core.protocol.errors import ProtocolError, invalid, missing

DEVICE_CODES = {
    1: ("DEVICE_DECLINED", "The user declined the request on the device."),
    2: ("DEVICE_NO_MATCHING_KEY", "The device has no key matching the request."),
    3: ("DEVICE_NOT_SUPPORTED", "The device does not support the request."),
    4: ("DEVICE_ERROR", "The device reported an error."),
}
MAX_DATA_CHARS = 512 * 1024
_HEX = re.compile(r"(?:[0-9a-fA-F]{2}){1,4096}")
# How far a PKCS#7 signingTime may lie before the command's creation or after the answer's
# arrival: the device's clock is not the server's.
SIGNING_TIME_SKEW: Final = timedelta(minutes=5)
# A signer certificate and its intermediates in a JWS x5c header.
MAX_CHAIN_CERTIFICATES: Final = 8


class AnswerRejected(Exception):
    """A device answer broke a validation rule (``code`` names it)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Envelope:
    """``{"responseHeader": {"inReplyTo", "status"}, "<type>Response": {"code", "result"}}``."""

    in_reply_to: str
    code: int
    result: dict[str, Any] | None
    raw: dict[str, Any]

    @property
    def data(self) -> Any:
        return None if self.result is None else self.result.get("data")


def parse_envelope(raw: Any, answer_key: str) -> Envelope:
    """Structural check of an answer (400 on failure: the device may send it again)."""
    if not isinstance(raw, dict):
        raise ProtocolError("INVALID_BODY", "The answer must be a JSON object.")
    header = raw.get("responseHeader")
    if not isinstance(header, dict):
        raise missing("responseHeader")
    in_reply_to = header.get("inReplyTo")
    if not isinstance(in_reply_to, str) or not in_reply_to:
        raise missing("responseHeader.inReplyTo")
    answer = raw.get(answer_key)
    if answer is None:
        others = sorted(k for k in raw if k.endswith("Response") and k != answer_key)
        if others:
            raise ProtocolError(
                "WRONG_ANSWER",
                f"{others[0]} does not answer this message; send {answer_key}.",
                others[0],
            )
        raise missing(answer_key)
    if not isinstance(answer, dict):
        raise invalid(answer_key, "must be an object")
    code = answer.get("code")
    if isinstance(code, str) and code.isdigit():
        code = int(code)
    if not isinstance(code, int) or isinstance(code, bool) or not 0 <= code <= 99:
        raise invalid(f"{answer_key}.code", "must be a number from 0 to 99")
    result = answer.get("result")
    if result is not None and not isinstance(result, dict):
        raise invalid(f"{answer_key}.result", "must be an object")
    data = None if result is None else result.get("data")
    if isinstance(data, str) and len(data) > MAX_DATA_CHARS:
        raise invalid(f"{answer_key}.result.data", "is too large")
    return Envelope(in_reply_to=in_reply_to, code=code, result=result, raw=raw)


def device_failure(code: int) -> tuple[str, str]:
    return DEVICE_CODES.get(code, ("DEVICE_ERROR", f"The device answered with code {code}."))


def _reject(code: str, message: str) -> AnswerRejected:
    return AnswerRejected(code, message)


def _jws_data(envelope: Envelope) -> str:
    data = envelope.data
    if not isinstance(data, str) or not data:
        raise _reject("RESULT_MISSING", "The answer carries no result data.")
    return data


# Bounds of device-reported information (deviceinfo, profileinfo entries): flat maps of short
# strings, so that what a device says about itself is small to store and safe to show (decided).
MAX_INFO_MEMBERS = 32
MAX_INFO_KEY_CHARS = 64
MAX_INFO_VALUE_CHARS = 1024
MAX_PROFILEINFO_ENTRIES = 64
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})


def _info_value(value: Any) -> str | None:
    """A member's value as text: strings as they are; JSON numbers and booleans in their JSON
    spelling (apps written in other languages send ``"activated": 1700000000`` or ``true``)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return json.dumps(value)
    return None


def info_map(value: Any, what: str, code: str) -> dict[str, str]:
    """A flat map of device information: at most ``MAX_INFO_MEMBERS`` members, keys of 1 to
    ``MAX_INFO_KEY_CHARS`` visible characters, values text of at most ``MAX_INFO_VALUE_CHARS``
    characters without control characters. Returns it with every value as a string."""
    if not isinstance(value, dict):
        raise _reject(code, f"{what} must be an object.")
    if len(value) > MAX_INFO_MEMBERS:
        raise _reject(code, f"{what} has more than {MAX_INFO_MEMBERS} members.")
    clean: dict[str, str] = {}
    for key, member in value.items():
        if (
            not isinstance(key, str)
            or not 1 <= len(key) <= MAX_INFO_KEY_CHARS
            or any(unicodedata.category(ch) in _INVISIBLE or ch.isspace() for ch in key)
        ):
            raise _reject(
                code, f"{what} keys must be 1 to {MAX_INFO_KEY_CHARS} visible characters."
            )
        text = _info_value(member)
        if text is None:
            raise _reject(code, f"{what}.{key} must be a string.")
        if len(text) > MAX_INFO_VALUE_CHARS:
            raise _reject(code, f"{what}.{key} is longer than {MAX_INFO_VALUE_CHARS} characters.")
        if any(unicodedata.category(ch) in {"Cc", "Cs"} for ch in text):
            raise _reject(code, f"{what}.{key} must not contain control characters.")
        clean[key] = text
    return clean


def _json_data(envelope: Envelope) -> dict[str, Any]:
    data = envelope.data
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except (ValueError, RecursionError):
            raise _reject("RESULT_MALFORMED", "The result data is not JSON.") from None
    if not isinstance(data, dict):
        raise _reject("RESULT_MALFORMED", "The result data must be a JSON object.")
    return data


# --- provisioning (§6.1, §6.2) -----------------------------------------------------------------


@dataclass(frozen=True)
class ProvisionExpectation:
    """What the command asked for, against which a provisioning answer is checked."""

    nonce: str
    userid: str
    servername: str
    name: str
    key_requests: tuple[KeyRequest, ...]
    public_url: str
    assigned_profile_id: uuid.UUID
    assigned_box_id: uuid.UUID
    trusted_thumbprints: frozenset[str]


@dataclass(frozen=True)
class ProvisionedKey:
    keyid: str
    usage: str
    keytype: str
    keylength: int
    keystate: str
    jwk: dict[str, Any]
    thumbprint: str
    certreq: str


@dataclass(frozen=True)
class ProvisionResult:
    """A validated provisioning answer: everything the server records for the new profile."""

    device_info: dict[str, Any]
    attestation_jwk: dict[str, Any]
    attestation_thumbprint: str
    profile_id: uuid.UUID
    box_id: uuid.UUID
    reported_own_ids: bool
    keys: tuple[ProvisionedKey, ...]
    # ``deviceinfo.push`` (docs/PROTOCOL.md §14), as sent: the push registration the device asks
    # for, checked by the push service (it is not device information to show).
    push: Any = None


def _verify_outer(data: str) -> tuple[jws.ParsedJws, dict[str, Any]]:
    try:
        parsed = jws.verify_with_header_jwk(data)
        payload = jws.payload_json(parsed)
    except CryptoError as exc:
        raise _reject(f"ATTESTATION_{exc.code}", f"Attestation signature: {exc}") from None
    return parsed, payload


def _signed_key(entry: Any, request: KeyRequest, nonce: str) -> ProvisionedKey:
    prefix = f"Key {request.keyid!r}"
    try:
        parsed = jws.parse_compact(entry)
        key_jwk = jws.payload_json(parsed)
        public_key = jwks.public_key_from_jwk(key_jwk)
        jws.verify(parsed, public_key)
    except CryptoError as exc:
        raise _reject(f"SIGNEDKEY_{exc.code}", f"{prefix}: {exc}") from None
    if parsed.header.get("kid") != request.keyid:
        raise _reject("SIGNEDKEY_KID_MISMATCH", f"{prefix}: kid does not match the keyid.")
    if parsed.header.get("nonce") != nonce:
        raise _reject("SIGNEDKEY_NONCE_MISMATCH", f"{prefix}: nonce does not match the command.")
    keytype, size = jwks.key_type_and_size(public_key)
    allowed = {(t, n) for t, n, _ in request.keytypeprios}
    if (keytype, size) not in allowed:
        raise _reject(
            "KEY_TYPE_NOT_REQUESTED", f"{prefix}: a {keytype} {size} key was not requested."
        )
    mechanisms = {m for t, n, m in request.keytypeprios if (t, n) == (keytype, size)}
    if parsed.alg not in mechanisms:
        raise _reject("KEY_MECHANISM_MISMATCH", f"{prefix}: signed with {parsed.alg}.")
    certreq = key_jwk.get("certreq")
    if not isinstance(certreq, str):
        raise _reject("CSR_MISSING", f"{prefix}: the signed key carries no certreq.")
    try:
        csr = parse_csr_b64(certreq)
        verify_csr_signature(csr)
    except CryptoError as exc:
        raise _reject(exc.code, f"{prefix}: {exc}") from None
    if not jwks.public_keys_equal(csr.public_key, public_key):
        raise _reject("CSR_KEY_MISMATCH", f"{prefix}: the CSR's key is not the signed key.")
    if csr.subject_der != request.subject_der:
        raise _reject("CSR_SUBJECT_MISMATCH", f"{prefix}: the CSR's subject is not the template's.")
    public_jwk = {
        k: v
        for k, v in key_jwk.items()
        if k in {"kty", "n", "e", "crv", "x", "y", "kid", "use", "alg"}
    }
    keystate = key_jwk.get("keystate")
    return ProvisionedKey(
        keyid=request.keyid,
        usage=request.usage,
        keytype=keytype,
        keylength=size,
        keystate=keystate if keystate in {"ACTIVE", "INACTIVE"} else request.keystate,
        jwk=public_jwk,
        thumbprint=jwks.thumbprint(public_key),
        certreq="".join(certreq.split()),
    )


def _reported_ids(
    profile: dict[str, Any], expected: ProvisionExpectation
) -> tuple[uuid.UUID, uuid.UUID, bool]:
    """Rule 6: the assigned ids, or the device's own (checked for availability by the caller)."""
    reported_id = profile.get("id")
    reported_box = profile.get("boxurl")
    assigned_box_url = f"{expected.public_url}/{expected.assigned_box_id}"
    if reported_id in (None, str(expected.assigned_profile_id)) and reported_box in (
        None,
        assigned_box_url,
    ):
        return expected.assigned_profile_id, expected.assigned_box_id, False
    try:
        profile_id = uuid.UUID(str(reported_id)) if reported_id is not None else None
    except ValueError:
        profile_id = None
    if profile_id is None:
        raise _reject("PROFILE_ID_INVALID", "profile.id is not a UUID.")
    box_id = None
    if isinstance(reported_box, str) and reported_box.startswith(f"{expected.public_url}/"):
        try:
            box_id = uuid.UUID(reported_box.removeprefix(f"{expected.public_url}/"))
        except ValueError:
            box_id = None
    if reported_box is None:
        box_id = expected.assigned_box_id
    if box_id is None:
        raise _reject("BOXURL_INVALID", "profile.boxurl is not <public-url>/<uuid>.")
    return profile_id, box_id, True


def validate_provision(envelope: Envelope, expected: ProvisionExpectation) -> ProvisionResult:
    """docs/PROTOCOL.md §6.2, rules 1–6, in order."""
    parsed, payload = _verify_outer(_jws_data(envelope))
    attestation_jwk = parsed.header.get("jwk")
    thumb = jwks.thumbprint(jws.header_public_key(parsed))
    if expected.trusted_thumbprints and thumb not in expected.trusted_thumbprints:
        raise _reject("ATTESTATION_KEY_NOT_TRUSTED", "The attestation key is not trusted.")
    if parsed.header.get("nonce") != expected.nonce:
        raise _reject("NONCE_MISMATCH", "The answer's nonce is not the command's.")
    answered_fqdn = parsed.header.get("fqdn")
    if answered_fqdn is not None and answered_fqdn != urlsplit(expected.public_url).hostname:
        raise _reject("FQDN_MISMATCH", "The answer's fqdn is not this server's.")
    profile = payload.get("profile")
    if not isinstance(profile, dict):
        raise _reject("PROFILE_MISSING", "The answer carries no profile.")
    for name, want in (
        ("userid", expected.userid),
        ("servername", expected.servername),
        ("name", expected.name),
    ):
        if profile.get(name) != want:
            raise _reject(
                f"PROFILE_{name.upper()}_MISMATCH", f"profile.{name} is not the command's."
            )
    signed = profile.get("signedkeys")
    if not isinstance(signed, list) or len(signed) != len(expected.key_requests):
        raise _reject("SIGNEDKEYS_COUNT", "There must be one signed key per key request.")
    keys = tuple(
        _signed_key(entry, request, expected.nonce)
        for entry, request in zip(signed, expected.key_requests, strict=True)
    )
    profile_id, box_id, own = _reported_ids(profile, expected)
    device_info = payload.get("deviceinfo")
    push = None
    if isinstance(device_info, dict) and "push" in device_info:
        device_info = {k: v for k, v in device_info.items() if k != "push"}
        push = payload["deviceinfo"]["push"]
    return ProvisionResult(
        push=push,
        device_info={}
        if device_info is None
        else info_map(device_info, "deviceinfo", "DEVICEINFO_INVALID"),
        attestation_jwk=attestation_jwk if isinstance(attestation_jwk, dict) else {},
        attestation_thumbprint=thumb,
        profile_id=profile_id,
        box_id=box_id,
        reported_own_ids=own,
        keys=keys,
    )


# --- authenticate and sign (§6.3) ---------------------------------------------------------------


@dataclass(frozen=True)
class SigningKey:
    keyid: str
    jwk: dict[str, Any]


# What the result body says of an accepted auth/sign answer (decided): verified by the server,
# or accepted without the server being able to verify it (xmldsig).
VERIFIED: Final = "VERIFIED"
NOT_VERIFIED_BY_SERVER: Final = "NOT_VERIFIED_BY_SERVER"


@dataclass(frozen=True)
class VerifiedSignature:
    """An accepted auth/sign answer: the key that signed it, and the replay fingerprint of its
    signature value (``crypto.signatures``), which the caller records for the profile and refuses
    to accept a second time (``SIGNATURE_REPLAYED``). ``verification`` is ``VERIFIED``, or
    ``NOT_VERIFIED_BY_SERVER`` for a format the server cannot verify (xmldsig; ``keyid`` is then
    empty and the fingerprint is the SHA-256 of the answer's data)."""

    keyid: str
    fingerprint: str
    verification: str = VERIFIED


def _check_signing_time(verified: VerifiedCms, *, created_at: datetime, now: datetime) -> None:
    """A CMS signs the content, not the command: its signed signingTime must lie within the
    command's life (from its creation to now, each widened by ``SIGNING_TIME_SKEW``)."""
    if not verified.has_signed_attributes:
        raise _reject(
            "SIGNED_ATTRIBUTES_MISSING",
            "The PKCS#7 signature has no signed attributes (signingTime is required).",
        )
    if verified.signing_time is None:
        raise _reject("SIGNING_TIME_MISSING", "The PKCS#7 signed attributes lack signingTime.")
    if verified.signing_time < created_at - SIGNING_TIME_SKEW:
        raise _reject(
            "SIGNING_TIME_OUT_OF_RANGE", "The PKCS#7 signingTime is before the command was created."
        )
    if verified.signing_time > now + SIGNING_TIME_SKEW:
        raise _reject("SIGNING_TIME_OUT_OF_RANGE", "The PKCS#7 signingTime is in the future.")


def _validate_pkcs7(
    data: str,
    content: bytes,
    candidates: tuple[SigningKey, ...],
    *,
    created_at: datetime,
    now: datetime,
) -> VerifiedSignature:
    for candidate in candidates:
        try:
            key = jwks.public_key_from_jwk(candidate.jwk)
            verified = verify_signed_data(data, expected_key=key, content=content)
        except CryptoError as exc:
            last = exc
            continue
        _check_signing_time(verified, created_at=created_at, now=now)
        return VerifiedSignature(
            keyid=candidate.keyid,
            fingerprint=signature_fingerprint(key, verified.signature, ecdsa_encoding="der"),
        )
    raise _reject(f"SIGNATURE_{last.code}", f"PKCS#7 signature: {last}")


def _unverified(data: str) -> VerifiedSignature:
    """An xmldsig answer: passed through, never claimed verified (decided). Its replay
    fingerprint is the SHA-256 of the data as sent, so the very same document is not accepted
    twice; it proves nothing else."""
    return VerifiedSignature(
        keyid="",
        fingerprint=hashlib.sha256(data.encode("utf-8")).hexdigest(),
        verification=NOT_VERIFIED_BY_SERVER,
    )


def _signature_bytes(data: str, what: str) -> bytes:
    try:
        return b64decode_strict(data)
    except CryptoError:
        raise _reject("SIGNATURE_BASE64_INVALID", f"The {what} is not base64.") from None


def _validate_raw(
    data: str, content: bytes, candidates: tuple[SigningKey, ...], mechanism: str
) -> VerifiedSignature:
    """A raw PKCS#1 v1.5 signature over the tbs data (§5.3, decided). It carries nothing of the
    command; only the replay check keeps it from completing a second command."""
    signature = _signature_bytes(data, "raw signature")
    for candidate in candidates:
        try:
            key = jwks.public_key_from_jwk(candidate.jwk)
            verify_raw_rsa(key, signature, content, mechanism)
        except CryptoError as exc:
            last = exc
            continue
        return VerifiedSignature(
            keyid=candidate.keyid,
            fingerprint=signature_fingerprint(key, signature, ecdsa_encoding="der"),
        )
    raise _reject(f"SIGNATURE_{last.code}", f"Raw signature: {last}")


def _check_jws_binding(parsed: jws.ParsedJws, command_id: int, tbs: tuple[bytes, ...]) -> None:
    try:
        payload = jws.payload_json(parsed)
    except CryptoError as exc:
        raise _reject(f"SIGNATURE_{exc.code}", f"JWS payload: {exc}") from None
    if str(payload.get("nonce")) != str(command_id):
        raise _reject("NONCE_MISMATCH", "The signature's nonce is not this command's id.")
    if payload.get("tbs") != [b64url_sha256(item) for item in tbs]:
        raise _reject("TBS_DIGEST_MISMATCH", "The signed digests are not those of the tbs items.")


def validate_signature(
    envelope: Envelope,
    *,
    command_id: int,
    tbs: tuple[bytes, ...],
    format_: str,
    candidates: tuple[SigningKey, ...],
    created_at: datetime,
    now: datetime,
    mechanism: str = DEFAULT_RAW_MECHANISM,
) -> VerifiedSignature:
    """Verify an auth/sign answer against the keys the filter selected (docs/PROTOCOL.md §6.3).

    Binding to the command: a JWS payload names the command (``nonce`` = commandId); a CMS
    signs only the content, so it must carry a signed signingTime within the command's life
    (``created_at`` and ``now``, aware datetimes). Neither binds a repeated command with the same
    tbs against a replay of the earlier answer's signature: that is the caller's check on the
    returned fingerprint. ``raw`` (PKCS#1 v1.5 over the tbs data, hashed per ``mechanism``)
    is bound by that check alone; ``xmldsig`` is accepted unverified (``NOT_VERIFIED_BY_SERVER``).
    """
    if not candidates:
        raise _reject("NO_MATCHING_KEY", "The profile has no key the filter selects.")
    data = _jws_data(envelope)
    if format_ == "xmldsig":
        return _unverified(data)
    if format_ == "raw":
        return _validate_raw(data, b"".join(tbs), candidates, mechanism)
    if format_ == "pkcs7":
        return _validate_pkcs7(data, b"".join(tbs), candidates, created_at=created_at, now=now)
    try:
        parsed = jws.parse_compact(data)
    except CryptoError as exc:
        raise _reject(f"SIGNATURE_{exc.code}", f"JWS signature: {exc}") from None
    kid = parsed.header.get("kid")
    chosen = [c for c in candidates if c.keyid == kid] or list(candidates)
    verified: tuple[SigningKey, jwks.PublicKey] | None = None
    for candidate in chosen:
        try:
            key = jwks.public_key_from_jwk(candidate.jwk)
            jws.verify(parsed, key)
            verified = (candidate, key)
            break
        except CryptoError as exc:
            last = exc
    if verified is None:
        raise _reject(f"SIGNATURE_{last.code}", f"JWS signature: {last}")
    _check_jws_binding(parsed, command_id, tbs)
    signer, key = verified
    return VerifiedSignature(
        keyid=signer.keyid,
        fingerprint=signature_fingerprint(key, parsed.signature, ecdsa_encoding="raw"),
    )


# --- profile-less auth/sign (@tmp without profileid) ---------------------------------------------


@dataclass(frozen=True)
class SignerSignature:
    """An accepted answer to a profile-less ``@tmp`` auth/sign command.

    ``certificate`` is the signer certificate the answer carried (None for xmldsig, which the
    server does not read) and ``intermediates`` the other certificates it carried (untrusted);
    ``signer`` the RFC 7638 thumbprint of the key that verified (empty for xmldsig), with which
    the caller finds a known profile and keys the replay record; ``fingerprint`` and
    ``verification`` as in ``VerifiedSignature``.
    """

    certificate: x509.Certificate | None
    intermediates: tuple[x509.Certificate, ...]
    signer: str
    fingerprint: str
    verification: str = VERIFIED


def _x5c(parsed: jws.ParsedJws) -> tuple[x509.Certificate, tuple[x509.Certificate, ...]]:
    """The signer certificate and the rest of the JWS header's ``x5c`` (RFC 7515 §4.1.6: standard
    base64 DER, the signer's first)."""
    chain = parsed.header.get("x5c")
    if not isinstance(chain, list) or not chain or len(chain) > MAX_CHAIN_CERTIFICATES:
        raise _reject(
            "SIGNER_CERTIFICATE_MISSING",
            "A JWS answer to a command without profile must carry its certificate in x5c.",
        )
    certificates = []
    for item in chain:
        try:
            certificates.append(parse_certificate_b64(item if isinstance(item, str) else ""))
        except CryptoError:
            raise _reject(
                "SIGNER_CERTIFICATE_INVALID", "An x5c entry is not a certificate."
            ) from None
    return certificates[0].certificate, tuple(c.certificate for c in certificates[1:])


def validate_profileless_signature(
    envelope: Envelope,
    *,
    command_id: int,
    tbs: tuple[bytes, ...],
    format_: str,
    created_at: datetime,
    now: datetime,
) -> SignerSignature:
    """Verify an answer to an auth/sign command sent to ``@tmp`` without a profile: against the
    certificate it carries (PKCS#7: the SignedData's signer certificate; JWS: the ``x5c`` header),
    bound to the command like a profile's answer (JWS nonce, PKCS#7 signingTime). That proves the
    holder of the certificate's key signed; whether the certificate is trusted, and whose key it
    is, the caller decides. ``raw`` never gets here (refused when the command is created)."""
    data = _jws_data(envelope)
    if format_ == "xmldsig":
        unverified = _unverified(data)
        return SignerSignature(None, (), "", unverified.fingerprint, NOT_VERIFIED_BY_SERVER)
    if format_ == "pkcs7":
        try:
            cms = verify_signed_data(data, expected_key=None, content=b"".join(tbs))
        except CryptoError as exc:
            raise _reject(f"SIGNATURE_{exc.code}", f"PKCS#7 signature: {exc}") from None
        _check_signing_time(cms, created_at=created_at, now=now)
        return SignerSignature(
            certificate=cms.signer_certificate,
            intermediates=cms.other_certificates,
            signer=jwks.thumbprint(cms.signer_key),
            fingerprint=signature_fingerprint(cms.signer_key, cms.signature, ecdsa_encoding="der"),
        )
    if format_ != "jws":
        raise _reject("FORMAT_NOT_SUPPORTED", f"The format {format_} needs a profile.")
    try:
        parsed = jws.parse_compact(data)
    except CryptoError as exc:
        raise _reject(f"SIGNATURE_{exc.code}", f"JWS signature: {exc}") from None
    certificate, intermediates = _x5c(parsed)
    try:
        key = jwks.require_supported_public_key(certificate.public_key())
        jws.verify(parsed, key)
    except CryptoError as exc:
        raise _reject(f"SIGNATURE_{exc.code}", f"JWS signature: {exc}") from None
    _check_jws_binding(parsed, command_id, tbs)
    return SignerSignature(
        certificate=certificate,
        intermediates=intermediates,
        signer=jwks.thumbprint(key),
        fingerprint=signature_fingerprint(key, parsed.signature, ecdsa_encoding="raw"),
    )


# --- ping, startpinreset (§6.3) -------------------------------------------------------------------


@dataclass(frozen=True)
class PingResult:
    """A validated ping answer: the device's information, when it reported it."""

    device_info: dict[str, str] | None
    profile_info: list[dict[str, str]] | None


def validate_ping(envelope: Envelope) -> PingResult:
    """``{"deviceinfo": {...}, "profileinfo": [{...}, ...]}`` (§6.3), both optional, both flat
    maps of bounded strings (``info_map``); profileinfo has at most ``MAX_PROFILEINFO_ENTRIES``."""
    data = _json_data(envelope)
    device_info = data.get("deviceinfo")
    profileinfo = data.get("profileinfo")
    profile_info = None
    if profileinfo is not None:
        if not isinstance(profileinfo, list) or len(profileinfo) > MAX_PROFILEINFO_ENTRIES:
            raise _reject(
                "PROFILEINFO_INVALID",
                f"profileinfo must be a list of at most {MAX_PROFILEINFO_ENTRIES} objects.",
            )
        profile_info = [
            info_map(entry, f"profileinfo[{index}]", "PROFILEINFO_INVALID")
            for index, entry in enumerate(profileinfo)
        ]
    return PingResult(
        device_info=None
        if device_info is None
        else info_map(device_info, "deviceinfo", "DEVICEINFO_INVALID"),
        profile_info=profile_info,
    )


def validate_spin(envelope: Envelope) -> dict[str, Any]:
    data = _json_data(envelope)
    nonce = data.get("nonce")
    if not isinstance(nonce, str) or not _HEX.fullmatch(nonce):
        raise _reject("SPIN_NONCE_INVALID", "The startpinreset answer needs a hex nonce.")
    if "transportedkey" in data and not isinstance(data["transportedkey"], str):
        raise _reject("RESULT_MALFORMED", "transportedkey must be a string.")
    return data
