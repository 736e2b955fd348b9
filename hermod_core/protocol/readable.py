"""Command bodies and device answers made readable for a person, with secrets masked.

Pure: the console shows what a device answered beside what was sent. Every compact JWS is shown
as its decoded header and payload (nested ones too: a provisioning answer's ``signedkeys``),
every certificate and CSR as a summary (subject, issuer, validity, key), JSON carried as text
(a ping's ``result.data``) as JSON, a CMS signature (``pkcs7``) as the certificates it carries.
Secrets never reach the page: tokens, passwords, admin keys, a CSR's challenge password, private
JWK members. Nothing here verifies anything: the answer may be one the server refused, so
decoding is best effort and never raises.
"""

import base64
import json
import re
from datetime import datetime
from typing import Any, Final

from hermod_core.crypto import jws
from hermod_core.crypto.certs import parse_certificate_b64
from hermod_core.crypto.cms import signed_data_certificates
from hermod_core.crypto.csr import csr_challenge_password, parse_csr_b64
from hermod_core.crypto.errors import CryptoError
from hermod_core.crypto.jwk import key_type_and_size

MASK: Final = "******** (masked)"

# Members whose values are secrets wherever they appear (compared case-insensitively).
SECRET_MEMBERS: Final = frozenset(
    {
        "token",
        "boxtoken",
        "password",
        "challengepassword",
        "challenge_password",
        "secret",
        "adminkey",
        "oldadminkey",
        "newadminkey",
        "transportedkey",
        "privatekey",
        "private_key",
    }
)
# The private members of a JWK (RFC 7518 §6.2.2, §6.3.2, §6.4.1).
PRIVATE_JWK_MEMBERS: Final = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
# Members that carry base64 DER certificates or lists of them.
_CERTIFICATE_MEMBERS: Final = frozenset({"certificate", "certificates", "x5c", "data", "cert"})
_MAX_DEPTH: Final = 12


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _key_text(key: object) -> str:
    try:
        kind, size = key_type_and_size(key)
    except CryptoError:
        return "unsupported key"
    return f"{kind} {size}"


def _certificate(text: str) -> dict[str, Any] | None:
    try:
        cert = parse_certificate_b64(text)
    except (CryptoError, ValueError):
        return None
    return {
        "certificate": {
            "subject": cert.subject,
            "issuer": cert.issuer,
            "valid": f"{_when(cert.not_before)} to {_when(cert.not_after)}",
            "key": _key_text(cert.public_key),
            "serial": format(cert.serial_number, "x"),
            "sha256": cert.sha256_fingerprint,
        }
    }


def _signed_data(text: str) -> dict[str, Any] | None:
    try:
        certificates = signed_data_certificates(text)
    except CryptoError:
        return None
    shown = [_certificate(base64.b64encode(der).decode("ascii")) for der in certificates]
    return {"CMS SignedData": {"certificates": [c or "not a supported certificate" for c in shown]}}


def _csr(text: str) -> dict[str, Any] | None:
    try:
        csr = parse_csr_b64(text)
    except (CryptoError, ValueError):
        return None
    summary: dict[str, Any] = {
        "subject": csr.subject_string,
        "key": _key_text(csr.public_key),
        "signature": "valid" if csr.signature_valid else "does not verify",
    }
    if csr_challenge_password(csr) is not None:
        summary["challenge password"] = MASK
    return {"certificate request": summary}


def _jws(text: str, depth: int) -> dict[str, Any] | None:
    if text.count(".") != 2:
        return None
    try:
        parsed = jws.parse_compact(text)
    except CryptoError:
        return None
    payload: Any
    try:
        payload = json.loads(parsed.payload)
    except (ValueError, RecursionError):
        payload = f"{len(parsed.payload)} bytes (not JSON)"
    return {
        "JWS header": readable(parsed.header, _depth=depth + 1),
        "JWS payload": readable(payload, _depth=depth + 1),
        "JWS signature": f"{len(parsed.signature)} bytes",
    }


def _json_text(text: str, depth: int) -> Any:
    if not text.lstrip().startswith(("{", "[")):
        return None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return readable(value, _depth=depth + 1) if isinstance(value, dict | list) else None


def _json_text_masked(text: str, depth: int) -> str:
    """JSON carried as text (a PIN reset's ``transportedkey``), re-written only if it held a
    secret; anything else exactly as stored."""
    if not text.lstrip().startswith(("{", "[")):
        return text
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return text
    shown = readable(value, decode=False, _depth=depth + 1)
    return text if shown == value else json.dumps(shown, ensure_ascii=False)


_URL_TOKEN = re.compile(r"(token=)[^&#\s\"]+")


def _string(name: str, text: str, depth: int, decode: bool) -> Any:
    if name in SECRET_MEMBERS:
        return text if _already_hidden(text) else MASK
    text = _URL_TOKEN.sub(r"\1********", text)  # plug-out URIs and app links carry a token
    if not decode:
        return _json_text_masked(text, depth)
    if name == "certreq":
        return _csr(text) or text
    decoded = _jws(text, depth) or _json_text(text, depth)
    if decoded is not None:
        return decoded
    if name in _CERTIFICATE_MEMBERS and len(text) > 200:
        return _certificate(text) or _signed_data(text) or text
    return text


def _already_hidden(item: Any) -> bool:
    # Empty, or already masked (``protocol.commands.admin_keys_masked``): nothing to hide.
    return item is None or (isinstance(item, str) and (not item or item.startswith("********")))


def _secret(key: object, item: Any, *, in_jwk: bool) -> bool:
    if in_jwk and key in PRIVATE_JWK_MEMBERS:
        return True
    return str(key).lower() in SECRET_MEMBERS and not _already_hidden(item)


def readable(value: Any, *, decode: bool = True, _name: str = "", _depth: int = 0) -> Any:
    """``value`` (a stored body or answer) with its secrets masked and, with ``decode``, its
    encoded parts decoded; without, the stored shape (the raw view beside the decoded one)."""
    if _depth > _MAX_DEPTH:
        return "… (nested too deep to show)"
    if isinstance(value, dict):
        in_jwk = "kty" in value
        return {
            key: MASK
            if _secret(key, item, in_jwk=in_jwk)
            else readable(item, decode=decode, _name=str(key).lower(), _depth=_depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [readable(item, decode=decode, _name=_name, _depth=_depth + 1) for item in value]
    if isinstance(value, str):
        return _string(_name, value, _depth, decode)
    return value
