"""Authenticate and sign answers (docs/PROTOCOL.md §5.3, §6.3): a JWS over digests, CMS, a raw
PKCS#1 signature, or a placeholder XML Signature.

`format: jws` → compact JWS `{"alg", "kid"}` over `{"tbs": [b64url(sha256(item))…],
"nonce": "<commandId>"}`. `format: pkcs7` → base64 DER CMS SignedData (detached) over the
concatenated tbs data, with signed attributes carrying the current signingTime (the server
requires it within the command's life; `SigningClock` keeps two signatures apart), with the
key's installed certificate, or a self-signed one made on the fly (the server trusts the
profile key, never the certificate, §6.3). `format: raw` (or `pkcs1`) → base64 RSASSA-PKCS1-v1_5
over the concatenated tbs data, hashed per `mechanism`. `format: xmldsig` → a placeholder XML
Signature the server passes through unverified. A message without profile (`@tmp` without
`profileid`, docs/signing.md) is signed by the first stored profile with a matching key, with its
certificate in the CMS or the JWS `x5c` header.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from hermod_core.crypto import jws
from hermod_core.crypto.certs import certificate_matches_key
from hermod_core.crypto.cms import sign_data
from hermod_core.crypto.csr import default_hash
from hermod_core.crypto.digests import b64url_sha256
from hermod_core.crypto.jwk import PrivateKey
from hermod_core.crypto.signatures import DEFAULT_RAW_MECHANISM, RAW_RSA_MECHANISMS
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
from hermod_core.emulator.testca import make_self_signed_ca

# `params.filter.param` -> the stored key's attribute it compares (docs/PROTOCOL.md §5.3).
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
    context: AnswerContext,
    stored: StoredKey,
    key: PrivateKey,
    tbs: list[bytes],
    x5c: x509.Certificate | None = None,
) -> dict[str, Any]:
    faults = context.faults
    command_id = str(context.header.get("commandId", ""))
    nonce = f"{command_id}0" if faults.wrong_nonce else command_id
    items = [_OTHER_DATA + item for item in tbs] if faults.wrong_tbs else tbs
    payload = {"tbs": [b64url_sha256(item) for item in items], "nonce": nonce}
    header: dict[str, Any] = {"kid": stored.keyid}
    if x5c is not None:
        # RFC 7515 §4.1.6: the signer certificate, standard base64 DER, for a server that knows
        # no profile key to expect (a profile-less @tmp command).
        der = x5c.public_bytes(serialization.Encoding.DER)
        header["x5c"] = [base64.b64encode(der).decode("ascii")]
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


def _raw_answer(
    context: AnswerContext, stored: StoredKey, key: PrivateKey, tbs: list[bytes], mechanism: str
) -> dict[str, Any]:
    """`format: raw` (PKCS#1): base64 of the RSASSA-PKCS1-v1_5 signature over the concatenated
    tbs data, hashed as `mechanism` says (CKM_SHA256_RSA_PKCS by default)."""
    hash_type = RAW_RSA_MECHANISMS.get(mechanism)
    if hash_type is None or not isinstance(key, rsa.RSAPrivateKey):
        raise Refusal(CODE_NOT_SUPPORTED, "raw signatures need an RSA key and a known mechanism")
    faults = context.faults
    content = b"".join(tbs)
    if faults.wrong_tbs:
        content = _OTHER_DATA + content
    signer = context.new_key(stored.keytype, stored.keylength) if faults.wrong_key else key
    assert isinstance(signer, rsa.RSAPrivateKey)
    signature = bytearray(signer.sign(content, padding.PKCS1v15(), hash_type()))
    if faults.tampered_payload:
        signature[-1] ^= 0x01
    return {"contenttype": "raw", "data": base64.b64encode(bytes(signature)).decode("ascii")}


def _xmldsig_answer(key: PrivateKey, tbs: list[bytes]) -> dict[str, Any]:
    """`format: xmldsig`: a plausible detached XML Signature (base64 of the document) over the
    tbs data. A placeholder of what a real app sends: its SignedInfo is signed as serialised
    here, not canonicalised, so no XMLDSIG verifier would accept it — the server does not verify
    this format and records the answer NOT_VERIFIED_BY_SERVER."""
    digest = base64.b64encode(hashlib.sha256(b"".join(tbs)).digest()).decode("ascii")
    signed_info = (
        '<ds:SignedInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">'
        '<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>'
        '<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>'
        '<ds:Reference URI="#tbs"><ds:DigestMethod '
        'Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>'
        f"<ds:DigestValue>{digest}</ds:DigestValue></ds:Reference></ds:SignedInfo>"
    )
    if isinstance(key, rsa.RSAPrivateKey):
        value = key.sign(signed_info.encode(), padding.PKCS1v15(), hashes.SHA256())
    else:
        value = key.sign(signed_info.encode(), ec.ECDSA(hashes.SHA256()))
    document = (
        '<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#">'
        f"{signed_info}<ds:SignatureValue>{base64.b64encode(value).decode('ascii')}"
        "</ds:SignatureValue></ds:Signature>"
    )
    return {"contenttype": "xmldsig", "data": base64.b64encode(document.encode()).decode("ascii")}


def _any_profile(
    profiles: tuple[StoredProfile, ...], filter_: object, command_type: str
) -> tuple[StoredProfile, StoredKey] | None:
    """For a profile-less `@tmp` message (a web page that knows no profile): the first stored
    profile with a key the filter selects, as a desktop app asks its user to pick one."""
    for profile in profiles:
        stored = select_key(profile, filter_, command_type)
        if stored is not None:
            return profile, stored
    return None


def build_signature(context: AnswerContext) -> Answer:
    """The auth/sign answer for the stored profile the message is for.

    A profile-less message (`@tmp` without `profileid`) is answered with the first stored
    profile that has a key the filter selects, its certificate carried in the answer (PKCS#7's
    SignedData; JWS's `x5c` header) since the server knows no key to expect. Refuses with code 2
    when the device holds no profile or no key the filter selects, and with code 3 for an
    unknown `format` (or `raw` with an EC key).
    """
    kind = context.command_type
    command = context.command("authCommand" if kind == "AUTH" else "signCommand")
    params = command.get("params")
    params = params if isinstance(params, dict) else {}
    profile = context.profile
    profileless = profile is None and not command.get("profileid")
    if profile is None:
        chosen = _any_profile(context.profiles, params.get("filter"), kind) if profileless else None
        if chosen is None:
            raise Refusal(CODE_NO_MATCHING_KEY, "the device holds no profile for this message")
        profile, stored = chosen
    else:
        found = select_key(profile, params.get("filter"), kind)
        if found is None:
            raise Refusal(CODE_NO_MATCHING_KEY, "no key of the profile matches the filter")
        stored = found
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
        x5c = _certificate_for(profile, stored, key) if profileless else None
        result = _jws_answer(context, stored, key, tbs, x5c)
    elif format_ == "pkcs7":
        result = _pkcs7_answer(context, profile, stored, key, tbs)
    elif format_ in ("raw", "pkcs1"):
        mechanism = str(params.get("mechanism") or DEFAULT_RAW_MECHANISM)
        result = _raw_answer(context, stored, key, tbs, mechanism)
    elif format_ == "xmldsig":
        result = _xmldsig_answer(key, tbs)
    else:
        raise Refusal(CODE_NOT_SUPPORTED, f"format {format_!r} is not supported")
    return Answer(kind, envelope(context, CODE_OK, result), shown=shown)
