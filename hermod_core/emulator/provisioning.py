"""The provisioning answer (docs/PROTOCOL.md §6.1), as a real authenticator app builds it.

For each key request: the first supported key type, a fresh key, the template CSR re-keyed with
it, and a signed-key entry (compact JWS by the new key over its JWK + `certreq` + `keystate`).
Around them: a JWS by the device's attestation key carrying device info and the profile. Each
`Faults` flag breaks exactly the rule of §6.2 it is named after (see `faults.FAULT_HELP`).
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
import uuid
from typing import Any, Final
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from hermod_core.crypto import jws
from hermod_core.crypto.csr import make_dummy_csr, parse_csr_b64, rekey_csr
from hermod_core.crypto.errors import CryptoError
from hermod_core.crypto.jwk import RSA_MIN_BITS, PrivateKey, key_type_and_size
from hermod_core.emulator import forgery
from hermod_core.emulator.display import card_images
from hermod_core.emulator.envelope import (
    CODE_DEVICE_ERROR,
    CODE_NOT_SUPPORTED,
    CODE_OK,
    Answer,
    AnswerContext,
    Refusal,
    envelope,
)
from hermod_core.emulator.keys import (
    SUPPORTED,
    device_jwk,
    private_key_pem,
    public_key_pem,
    signing_alg,
)
from hermod_core.emulator.state import StoredKey, StoredProfile
from hermod_core.protocol.commands import EC_MECHANISM

# JWK `use` (RFC 7517 §4.2) for each protocol usage.
_JWK_USE: Final = {"SIG": "sig", "AUTH": "sig", "ENC": "enc", "DEVICE_ENC": "enc"}
WRONG_FQDN: Final = "wrong.invalid"  # RFC 6761: never a real host
_SCHEMA_VERSION: Final = "1"


def choose_key_type(prios: object) -> tuple[str, int, str]:
    """The first `keytypeprios` entry this device supports: (keytype, keylength, mechanism).

    `keylength` may be a number or a numeric string, as integrations send it; a missing
    `responsemechanism` defaults like the server's (RS256, or ES256/ES384 by curve).
    Raises `Refusal` (code 3) when no entry is supported.
    """
    for prio in prios if isinstance(prios, list) else []:
        if not isinstance(prio, dict):
            continue
        keytype = str(prio.get("keytype", "")).upper()
        try:
            keylength = int(str(prio.get("keylength", "")).strip())
        except ValueError:
            continue
        if (keytype, keylength) not in SUPPORTED:
            continue
        default = EC_MECHANISM[keylength] if keytype == "EC" else "RS256"
        return keytype, keylength, str(prio.get("responsemechanism") or default)
    raise Refusal(CODE_NOT_SUPPORTED, "no requested key type is supported by this device")


def _generated_size(keytype: str, keylength: int, *, small: bool) -> tuple[int, str | None]:
    """What to really generate: the request, or (small-key fault) RSA 1024 / the other curve.

    Returns the size and, for EC, the algorithm that fits the generated curve (a wrong-size
    EC key signed with the requested curve's algorithm could not be signed at all).
    """
    if not small:
        return keylength, None
    if keytype == "RSA":
        return 1024, None
    other = 384 if keylength == 256 else 256
    return other, EC_MECHANISM[other]


def _sign(payload: dict[str, Any], key: PrivateKey, alg: str, header: dict[str, Any]) -> str:
    # sign_compact refuses RSA keys below 2048 bits, which only the small-key fault produces.
    if isinstance(key, rsa.RSAPrivateKey) and key.key_size < RSA_MIN_BITS:
        return forgery.sign_any({"alg": alg, **header}, payload, key)
    return jws.sign_compact(payload, key, alg, header)


def _other_subject_csr(template: str, key: PrivateKey) -> bytes:
    """A CSR signed by `key` whose CN differs from the template's (other-subject fault)."""
    subject = parse_csr_b64(template).subject
    rdns: list[x509.RelativeDistinguishedName] = []
    replaced = False
    for rdn in subject.rdns:
        attributes = []
        for attribute in rdn:
            if attribute.oid == NameOID.COMMON_NAME and not replaced:
                attribute = x509.NameAttribute(NameOID.COMMON_NAME, f"{attribute.value!s} (other)")
                replaced = True
            attributes.append(attribute)
        rdns.append(x509.RelativeDistinguishedName(attributes))
    if not replaced:
        rdns.append(
            x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COMMON_NAME, "Other")])
        )
    return make_dummy_csr(x509.Name(rdns), key=key)


def _key_entry(request: object, nonce: str, context: AnswerContext) -> tuple[str, StoredKey]:
    """One `signedkeys` entry (§6.1) and the key to store, for one `keygenrequests` item."""
    if not isinstance(request, dict) or not isinstance(request.get("keyid"), str):
        raise Refusal(CODE_DEVICE_ERROR, "a key request has no keyid")
    faults = context.faults
    keyid: str = request["keyid"]
    usage = str(request.get("usage") or "SIG")
    keystate = str(request.get("keystate") or "ACTIVE")
    template = request.get("certreq")
    if not isinstance(template, str):
        raise Refusal(CODE_DEVICE_ERROR, f"key request {keyid!r} has no certreq")
    keytype, keylength, alg = choose_key_type(request.get("keytypeprios"))
    size, small_alg = _generated_size(keytype, keylength, small=faults.small_key)
    alg = small_alg or alg
    key = context.new_key(keytype, size)
    csr_key = context.new_key(keytype, size) if faults.csr_key_mismatch else key
    try:
        csr_der = (
            _other_subject_csr(template, csr_key)
            if faults.other_subject
            else rekey_csr(template, csr_key)
        )
    except CryptoError:
        raise Refusal(CODE_DEVICE_ERROR, f"the certreq of {keyid!r} is not a CSR") from None
    certreq = base64.b64encode(csr_der).decode("ascii")
    jwk = device_jwk(
        key.public_key(),
        quirky=context.quirky_jwk,
        keystate=keystate,
        kid=keyid,
        use=_JWK_USE.get(usage, "sig"),
        alg=alg,
    )
    signer = context.new_key(keytype, size) if faults.wrong_key else key
    entry = _sign({**jwk, "certreq": certreq, "keystate": keystate}, signer, alg,
                  {"kid": keyid, "nonce": nonce})  # fmt: skip
    actual_type, actual_size = key_type_and_size(key)
    stored = StoredKey(
        keyid=keyid,
        usage=usage,
        keytype=actual_type,
        keylength=actual_size,
        keystate=keystate,
        alg=alg,
        private_key_pem=private_key_pem(key),
        jwk=jwk,
        certreq=certreq,
    )
    return entry, stored


def _outer_jws(context: AnswerContext, header: dict[str, Any], payload: dict[str, Any]) -> str:
    """The attestation JWS (§6.1), or the forged variant a fault asks for."""
    faults = context.faults
    key = context.attestation_key
    alg = signing_alg(key)  # RS256, or ES256 for the P-256 attestation key
    if faults.alg_none:
        token = forgery.unsigned(header, payload)
    elif faults.hs256:
        token = forgery.hs256_with(public_key_pem(key.public_key()), header, payload)
    else:
        token = jws.sign_compact(payload, key, alg, header)
    return forgery.tamper_payload(token) if faults.tampered_payload else token


def build_provision(context: AnswerContext) -> Answer:
    """The provisioning answer and the profile to store if the server accepts it.

    The device takes the `assigned` profile id and box (§6.2 rule 6). Without `assigned` it
    reports ids of its own; it then has no box token, so `run` will not poll that profile.
    """
    command = context.command("provCommand")
    profile_request = command.get("profile")
    if not isinstance(profile_request, dict):
        raise Refusal(CODE_DEVICE_ERROR, "the provisioning command has no profile")
    faults = context.faults
    nonce = str(command.get("nonce", ""))
    signed_nonce = f"{nonce}-not-this-one" if faults.wrong_nonce else nonce
    requests = profile_request.get("keygenrequests")
    if not isinstance(requests, list) or not requests:
        raise Refusal(CODE_DEVICE_ERROR, "the provisioning command requests no keys")
    entries: list[str] = []
    keys: dict[str, StoredKey] = {}
    for request in requests:
        entry, stored = _key_entry(request, signed_nonce, context)
        entries.append(entry)
        keys[stored.keyid] = stored
    if faults.missing_key:
        entries.pop()

    assigned = context.message.get("assigned")
    assigned = assigned if isinstance(assigned, dict) else {}
    public_url = context.location.rsplit("/", 2)[0]
    profile_id = str(assigned.get("profileid") or uuid.uuid4())
    boxurl = str(assigned.get("boxurl") or f"{public_url}/{uuid.uuid4()}")
    fqdn = str(context.header.get("fqdn") or urlsplit(context.location).hostname or "")
    userid = str(command.get("userid", ""))
    servername = str(profile_request.get("servername", ""))
    name = str(profile_request.get("name", ""))

    attestation_jwk = device_jwk(
        context.attestation_key.public_key(), quirky=context.quirky_jwk, kid="attestation"
    )
    header = {
        "jwk": attestation_jwk,
        "nonce": signed_nonce,
        "fqdn": WRONG_FQDN if faults.wrong_fqdn else fqdn,
        "sch": _SCHEMA_VERSION,
    }
    payload = {
        "deviceinfo": dict(context.deviceinfo),
        "profile": {
            "servername": servername,
            "name": name,
            "userid": userid,
            "id": profile_id,
            "boxurl": boxurl,
            "signedkeys": entries,
        },
    }
    token = _outer_jws(context, header, payload)
    vscinfo = command.get("vscinfo")
    extensions = command.get("desktopExtensions")
    profile = StoredProfile(
        profile_id=profile_id,
        boxurl=boxurl,
        boxtoken="",  # given by the server's answer once it accepted this one
        userid=userid,
        name=name,
        servername=servername,
        keys=keys,
        guid=secrets.token_hex(16),
        activated=dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        vscinfo=vscinfo if isinstance(vscinfo, dict) else {},
        desktop_extensions=extensions if isinstance(extensions, list) else [],
        desktop_key_protection_level=str(command.get("desktopKeyProtectionLevel") or ""),
        visual_data=card_images(command),
    )
    return Answer(
        "PROV",
        envelope(context, CODE_OK, {"contenttype": "jws", "data": token}),
        new_profile=profile,
    )
