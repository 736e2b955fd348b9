"""Authenticate and sign answers (PROTOCOL.md §5.3, §6.3): a JWS over digests, or CMS.

`format: jws` → compact JWS `{"alg", "kid"}` over `{"tbs": [b64url(sha256(item))…],
"nonce": "<commandId>"}`. `format: pkcs7` → base64 DER CMS SignedData (detached) over the
concatenated tbs data, with signed attributes carrying the current signingTime (the server
requires it within the command's life; `SigningClock` keeps two signatures apart), with the
key's installed certificate, or a self-signed one made on the fly (the server trusts the
profile key, never the certificate, §6.3).
"""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any, Final

from cryptography import x509

from hermod_core.crypto import jws
from hermod_core.crypto.certs import certificate_matches_key
from hermod_core.crypto.cms import sign_data
from hermod_core.crypto.csr import default_hash
from hermod_core.crypto.digests import b64url_sha256
from hermod_core.crypto.jwk import PrivateKey
from hermod_core.crypto.testca import make_self_signed_ca
from hermod_core.emulator import forgery
from hermod_core.emulator.display import request_images
from hermod_core.emulator.envelope import (
    CODE_NO_MATCHING_KEY,
    CODE_NOT_SUPPORTED,
    CODE_OK,
    Answer,
    AnswerContext,
    Refusal,
    decode_b64,
    envelope,
)
from hermod_core.emulator.keys import public_key_pem, signing_alg
from hermod_core.emulator.state import StoredKey, StoredProfile

# `params.filter.param` -> the stored key's attribute it compares (PROTOCOL.md §5.3).
_FILTER_ATTRIBUTES: Final = {"key.type": "keytype", "key.usage": "usage", "key.id": "keyid"}
_OTHER_DATA: Final = b"not what the server asked to sign"
# The `stale-signing-time` fault: well beyond the server's clock-skew allowance.
_STALE: Final = timedelta(hours=1)


def select_key(profile: StoredProfile, filter_: object, command_type: str) -> StoredKey | None:
    """The key the command's filter selects, preferring ACTIVE keys (the server only accepts
    those). Without a usable filter: the first ACTIVE key of usage SIG (sign) or AUTH
    (authenticate), else the first ACTIVE key, else the first key. None if nothing matches."""
    keys = list(profile.keys.values())
    attribute = None
    if isinstance(filter_, dict) and filter_.get("value") is not None:
        attribute = _FILTER_ATTRIBUTES.get(str(filter_.get("param", "")))
    if attribute is not None:
        assert isinstance(filter_, dict)
        keys = [k for k in keys if getattr(k, attribute) == str(filter_["value"])]
        active = [k for k in keys if k.keystate == "ACTIVE"]
        return next(iter(active or keys), None)
    usage = "AUTH" if command_type == "AUTH" else "SIG"
    active = [k for k in keys if k.keystate == "ACTIVE"]
    preferred = [k for k in active if k.usage == usage]
    return next(iter(preferred or active or keys), None)


def _certificate_for(
    profile: StoredProfile, stored: StoredKey, key: PrivateKey
) -> x509.Certificate:
    """The key's installed certificate if it certifies this key, else a fresh self-signed one."""
    installed = profile.certificates.get(stored.keyid)
    if installed is not None:
        try:
            certificate = x509.load_der_x509_certificate(base64.b64decode(installed))
        except ValueError:
            certificate = None  # an unreadable installed certificate is as good as none
        if certificate is not None and certificate_matches_key(certificate, key.public_key()):
            return certificate
    return make_self_signed_ca(f"hermod-device {stored.keyid}", key=key, days=1)[1]


def _jws_answer(
    context: AnswerContext, stored: StoredKey, key: PrivateKey, tbs: list[bytes]
) -> dict[str, Any]:
    faults = context.faults
    command_id = str(context.header.get("commandId", ""))
    nonce = f"{command_id}0" if faults.wrong_nonce else command_id
    items = [_OTHER_DATA + item for item in tbs] if faults.wrong_tbs else tbs
    payload = {"tbs": [b64url_sha256(item) for item in items], "nonce": nonce}
    header = {"kid": stored.keyid}
    alg = signing_alg(key)
    if faults.alg_none:
        token = forgery.unsigned({"alg": alg, **header}, payload)
    elif faults.hs256:
        token = forgery.hs256_with(public_key_pem(key.public_key()), header, payload)
    else:
        signer = context.new_key(stored.keytype, stored.keylength) if faults.wrong_key else key
        token = jws.sign_compact(payload, signer, alg, header)
    if faults.tampered_payload:
        token = forgery.tamper_payload(token)
    return {"contenttype": "jws", "data": token}


def _pkcs7_answer(
    context: AnswerContext, profile: StoredProfile, stored: StoredKey, key: PrivateKey,
    tbs: list[bytes],
) -> dict[str, Any]:  # fmt: skip
    faults = context.faults
    content = b"".join(tbs)
    if faults.wrong_tbs:
        content = _OTHER_DATA + content
    signer = context.new_key(stored.keytype, stored.keylength) if faults.wrong_key else key
    certificate = _certificate_for(profile, stored, signer)
    der = bytearray(
        sign_data(
            content,
            signer,
            certificate,
            hash_alg=default_hash(signer),
            signed_attributes=not faults.no_signed_attributes,
            signing_time=context.signing_clock.next()
            - (_STALE if faults.stale_signing_time else timedelta(0)),
        )
    )
    if faults.tampered_payload:
        # The SignerInfo comes last and its signature is its last field: this flips a bit of
        # the signature value itself.
        der[-1] ^= 0x01
    return {"contenttype": "pkcs7", "data": base64.b64encode(bytes(der)).decode("ascii")}


def build_signature(context: AnswerContext) -> Answer:
    """The auth/sign answer for the stored profile the message is for.

    Refuses with code 2 when the device holds no profile or no key the filter selects, and with
    code 3 for a `format` other than jws/pkcs7.
    """
    kind = context.command_type
    command = context.command("authCommand" if kind == "AUTH" else "signCommand")
    params = command.get("params")
    params = params if isinstance(params, dict) else {}
    profile = context.profile
    if profile is None:
        raise Refusal(CODE_NO_MATCHING_KEY, "the device holds no profile for this message")
    stored = select_key(profile, params.get("filter"), kind)
    if stored is None:
        raise Refusal(CODE_NO_MATCHING_KEY, "no key of the profile matches the filter")
    shown = tuple(request_images(params))
    items = params.get("tbs")
    tbs = [
        decode_b64(item.get("data"), "a tbs item")
        for item in (items if isinstance(items, list) else [])
        if isinstance(item, dict)
    ]
    format_ = str(params.get("format") or "jws").lower()
    key = stored.private_key()
    if format_ == "jws":
        result = _jws_answer(context, stored, key, tbs)
    elif format_ == "pkcs7":
        result = _pkcs7_answer(context, profile, stored, key, tbs)
    else:
        raise Refusal(CODE_NOT_SUPPORTED, f"format {format_!r} is not supported")
    return Answer(kind, envelope(context, CODE_OK, result), shown=shown)
