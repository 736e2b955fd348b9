"""Command requests of the command API (docs/PROTOCOL.md §4–§5): endpoint table and body rules.

``parse_command_request`` checks every rule of §4–§5 and returns what the services need; the
command object itself is kept exactly as sent (unknown members included), because desktop apps
read members the server does not interpret.
"""

import re
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from hermod_core.crypto.certs import parse_certificate_b64
from hermod_core.crypto.csr import parse_csr_b64
from hermod_core.crypto.errors import CryptoError
from hermod_core.crypto.signatures import DEFAULT_RAW_MECHANISM, RAW_RSA_MECHANISMS
from hermod_core.protocol import fields as f
from hermod_core.protocol.content import (
    ContentRef,
    check_content_id,
    content_refs,
    is_content_id_item,
)
from hermod_core.protocol.errors import ProtocolError, invalid, missing


class CommandType(StrEnum):
    PROV = "PROV"
    CERT = "CERT"
    AUTH = "AUTH"
    SIGN = "SIGN"
    PING = "PING"
    DELETE = "DELETE"
    SPIN = "SPIN"
    EPIN = "EPIN"


@dataclass(frozen=True)
class Endpoint:
    """One row of the table of docs/PROTOCOL.md §4."""

    name: str  # the path segment after /command/
    command_type: CommandType
    body_key: str
    answer_key: str

    @property
    def callback_path(self) -> str:
        return f"/callback/{self.name}"


ENDPOINTS: dict[str, Endpoint] = {
    e.name: e
    for e in [
        Endpoint("provision", CommandType.PROV, "provCommand", "provResponse"),
        Endpoint("certificate", CommandType.CERT, "certCommand", "certResponse"),
        Endpoint("authenticate", CommandType.AUTH, "authCommand", "authResponse"),
        Endpoint("sign", CommandType.SIGN, "signCommand", "signResponse"),
        Endpoint("ping", CommandType.PING, "pingCommand", "pingResponse"),
        Endpoint("delete", CommandType.DELETE, "deleteCommand", "deleteResponse"),
        Endpoint("startpinreset", CommandType.SPIN, "spinCommand", "spinResponse"),
        Endpoint("endpinreset", CommandType.EPIN, "epinCommand", "epinResponse"),
    ]
}
BY_TYPE: dict[CommandType, Endpoint] = {e.command_type: e for e in ENDPOINTS.values()}
BODY_KEYS = {e.body_key for e in ENDPOINTS.values()}

TMP = "@tmp"
DEFAULT_SECONDS = 300
MAX_SECONDS = 86400
KEY_SIZES = {"RSA": (2048, 3072, 4096), "EC": (256, 384)}
MECHANISMS = {
    "RSA": ("RS256", "RS384", "RS512", "PS256"),
    "EC": ("ES256", "ES384"),
}
EC_MECHANISM = {256: "ES256", 384: "ES384"}
USAGES = ("SIG", "AUTH", "ENC", "DEVICE_ENC")
STORAGES = ("APP", "OS", "TPM", "YUBI")
KEYSTATES = ("ACTIVE", "INACTIVE")
PROTECTION_LEVELS = ("NONE", "CONSENT", "PASSWORD", "BIOMETRICS")
SPIN_OPERATIONS = ("pinreset", "adminkeychange", "pinchange", "pukchange")
# `format` of auth/sign (§5.3), matched without regard to case; `pkcs1` is another name of `raw`.
SIGN_FORMATS = ("jws", "pkcs7", "xmldsig", "raw", "pkcs1")
# Commands a `smartcardid` addresses when `profileid` is absent (seed 000, decided for delete).
SMARTCARD_TYPES = frozenset(
    {CommandType.CERT, CommandType.SPIN, CommandType.EPIN, CommandType.DELETE}
)
# Commands a web page may send to `@tmp` without knowing the profile: whichever app opens the
# plug-out link answers (decided).
PROFILELESS_TMP_TYPES = frozenset({CommandType.AUTH, CommandType.SIGN, CommandType.SPIN})
FILTER_PARAMS = ("key.type", "key.usage", "key.id")
BOOLEAN_EXTENSIONS = (
    "singleprofile",
    "deletedisabled",
    "disableactivatebutton",
    "disablepinresetbutton",
    "hybridprofile",
)
PROVISIONREADER = re.compile(r"CreateTPM|FreeTPM|[0-9]{1,3}TPM")
_PRINTABLE = re.compile(r"[\x20-\x7e]{1,128}")
_HEX = re.compile(r"(?:[0-9a-fA-F]{2}){1,4096}")


@dataclass(frozen=True)
class Address:
    """One entry of ``commandHeader.to``: ``@tmp``, ``@<userid>`` or a profile id."""

    raw: str
    userid: str | None = None
    profile_id: uuid.UUID | None = None

    @property
    def is_tmp(self) -> bool:
        return self.raw == TMP


@dataclass(frozen=True)
class CommandHeader:
    to: tuple[Address, ...]
    lifespan: int
    timeout: int
    external_id: str | None
    to_given: bool


@dataclass(frozen=True)
class KeyRequest:
    keyid: str
    usage: str
    keytypeprios: tuple[tuple[str, int, str], ...]  # (keytype, keylength, mechanism)
    subject_der: bytes  # the template's subject, which the re-keyed CSR must keep
    keystate: str


@dataclass(frozen=True)
class CertificateItem:
    keyid: str
    der: bytes


@dataclass(frozen=True)
class CommandRequest:
    """A checked command request; ``body`` is the command object exactly as sent."""

    endpoint: Endpoint
    header: CommandHeader
    body: dict[str, Any]
    profile_id: uuid.UUID | None = None
    userid: str | None = None
    nonce: str | None = None
    key_requests: tuple[KeyRequest, ...] = ()
    certificates: tuple[CertificateItem, ...] = ()
    smartcard_id: str | None = None
    smartcard_field: str | None = None  # the dotted path of smartcard_id, for errors
    sign_format: str | None = None  # auth/sign: the canonical format (sign_format())
    confirmed: bool = True
    content: tuple[ContentRef, ...] = ()  # placeholders for the content provider (§13)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def command_type(self) -> CommandType:
        return self.endpoint.command_type


def _address(value: Any, path: str) -> Address:
    if not isinstance(value, str) or not value:
        raise invalid(path, "must be @tmp, @<userid> or a profile id")
    if value == TMP:
        return Address(value)
    if value.startswith("@"):
        userid = f.text({"u": value[1:]}, "u", path, required=True)
        return Address(value, userid=userid)
    try:
        return Address(value, profile_id=uuid.UUID(value))
    except ValueError:
        raise invalid(path, "must be @tmp, @<userid> or a profile id") from None


def _header(raw: dict[str, Any], endpoint: Endpoint) -> CommandHeader:
    header = f.obj(raw, "commandHeader", "commandHeader", required=False) or {}
    to_list = f.lst(header, "to", "commandHeader.to", required=False)
    if to_list is not None and not 1 <= len(to_list) <= 100:
        raise invalid("commandHeader.to", "must name 1 to 100 addresses")
    to = tuple(_address(v, f"commandHeader.to[{i}]") for i, v in enumerate(to_list or []))
    lifespan = f.integer(
        header, "lifespan", "commandHeader.lifespan", default=None, low=1, high=MAX_SECONDS
    )
    timeout = f.integer(
        header, "timeout", "commandHeader.timeout", default=None, low=1, high=MAX_SECONDS
    )
    lifespan = lifespan or min(DEFAULT_SECONDS, timeout or DEFAULT_SECONDS)
    # A lifespan above the default without a timeout gets a timeout that covers it (decided).
    timeout = timeout or max(DEFAULT_SECONDS, lifespan)
    if timeout < lifespan:
        raise invalid("commandHeader.timeout", "must be at least the lifespan")
    external_id = f.text(
        header, "externalId", "commandHeader.externalId", required=False, min_length=0
    )
    if endpoint.command_type is CommandType.PROV and to and [a.raw for a in to] != [TMP]:
        raise invalid("commandHeader.to", 'must be ["@tmp"] for a provisioning command')
    return CommandHeader(
        to=to or ((Address(TMP),) if endpoint.command_type is CommandType.PROV else ()),
        lifespan=lifespan,
        timeout=timeout,
        external_id=external_id,
        to_given=bool(to),
    )


def _certreq(value: Any, path: str, keyid: str) -> bytes:
    if not isinstance(value, str):
        raise invalid(path, f"of key {keyid!r} must be base64 DER PKCS#10")
    try:
        csr = parse_csr_b64(value)
    except CryptoError:
        raise ProtocolError(
            "INVALID_CERTREQ", f"certreq of key {keyid!r} is not a parseable PKCS#10.", path
        ) from None
    return csr.subject_der


def _keytypeprio(raw: Any, path: str) -> tuple[str, int, str]:
    if not isinstance(raw, dict):
        raise invalid(path, "must be an object")
    keytype = f.choice(raw, "keytype", f"{path}.keytype", KEY_SIZES, default=None)
    if keytype is None:
        raise missing(f"{path}.keytype")
    keylength = f.integer(raw, "keylength", f"{path}.keylength", default=None, low=1, high=16384)
    if keylength is None:
        raise missing(f"{path}.keylength")
    if keylength not in KEY_SIZES[keytype]:
        sizes = ", ".join(str(s) for s in KEY_SIZES[keytype])
        raise invalid(f"{path}.keylength", f"must be one of {sizes} for {keytype}")
    default = EC_MECHANISM[keylength] if keytype == "EC" else "RS256"
    mechanism = f.choice(
        raw, "responsemechanism", f"{path}.responsemechanism", MECHANISMS[keytype], default=default
    )
    if keytype == "EC" and mechanism != EC_MECHANISM[keylength]:
        raise invalid(f"{path}.responsemechanism", f"must be {EC_MECHANISM[keylength]}")
    assert mechanism is not None
    return keytype, keylength, mechanism


def _key_request(raw: Any, path: str) -> KeyRequest:
    if not isinstance(raw, dict):
        raise invalid(path, "must be an object")
    keyid = f.text(raw, "keyid", f"{path}.keyid", required=True, max_length=100)
    assert keyid is not None
    usage = f.choice(raw, "usage", f"{path}.usage", USAGES, default=None)
    if usage is None:
        raise missing(f"{path}.usage")
    prios = f.lst(raw, "keytypeprios", f"{path}.keytypeprios", required=True) or []
    if not 1 <= len(prios) <= 8:
        raise invalid(f"{path}.keytypeprios", "must have 1 to 8 entries")
    storages = f.lst(raw, "storageprios", f"{path}.storageprios", required=False) or []
    for i, storage in enumerate(storages):
        if storage not in STORAGES:
            raise invalid(f"{path}.storageprios[{i}]", f"must be one of {', '.join(STORAGES)}")
    keystate = f.choice(raw, "keystate", f"{path}.keystate", KEYSTATES, default="ACTIVE")
    if raw.get("certreq") is None:
        raise missing(f"{path}.certreq")
    return KeyRequest(
        keyid=keyid,
        usage=usage,
        keytypeprios=tuple(
            _keytypeprio(p, f"{path}.keytypeprios[{i}]") for i, p in enumerate(prios)
        ),
        subject_der=_certreq(raw["certreq"], f"{path}.certreq", keyid),
        keystate=keystate or "ACTIVE",
    )


def parse_key_requests(profile: dict[str, Any], path: str) -> tuple[KeyRequest, ...]:
    """The key requests of a provCommand's ``profile`` (also re-read when its answer arrives)."""
    requests = f.lst(profile, "keygenrequests", f"{path}.keygenrequests", required=True)
    if not requests or len(requests) > 8:
        raise invalid(f"{path}.keygenrequests", "must have 1 to 8 entries")
    key_requests = tuple(
        _key_request(r, f"{path}.keygenrequests[{i}]") for i, r in enumerate(requests)
    )
    keyids = [k.keyid for k in key_requests]
    if len(set(keyids)) != len(keyids):
        raise invalid(f"{path}.keygenrequests", "must not repeat a keyid")
    return key_requests


def _vscinfo(body: dict[str, Any], path: str) -> str | None:
    vscinfo = f.obj(body, "vscinfo", path, required=False)
    if vscinfo is None:
        return None
    f.admin_key(vscinfo, "adminkey", f"{path}.adminkey")
    f.admin_key(vscinfo, "oldadminkey", f"{path}.oldadminkey")
    return f.text(vscinfo, "smartcardid", f"{path}.smartcardid", required=False)


def _protection_level(body: dict[str, Any], path: str) -> None:
    """The optional ``desktopKeyProtectionLevel`` of a provisioning or certificate command."""
    f.choice(
        body,
        "desktopKeyProtectionLevel",
        f"{path}.desktopKeyProtectionLevel",
        PROTECTION_LEVELS,
        default=None,
    )


def _desktop_extensions(body: dict[str, Any], path: str) -> None:
    extensions = f.lst(body, "desktopExtensions", path, required=False) or []
    for i, ext in enumerate(extensions):
        item = f"{path}[{i}]"
        if not isinstance(ext, dict):
            raise invalid(item, "must be an object with key and data")
        key = f.text(ext, "key", f"{item}.key", required=True, max_length=100)
        data = ext.get("data")
        if key == "provisionreader" and not (
            isinstance(data, str) and PROVISIONREADER.fullmatch(data)
        ):
            raise invalid(f"{item}.data", "must be CreateTPM, FreeTPM or <n>TPM")
        if key in BOOLEAN_EXTENSIONS:
            f.flag(ext, "data", f"{item}.data", default=False)
        if key == "congratsmessage":
            f.text(ext, "data", f"{item}.data", required=True, max_length=2000)


def _prov(body: dict[str, Any], path: str) -> dict[str, Any]:
    nonce = body.get("nonce")
    if nonce is None:
        raise missing(f"{path}.nonce")
    if not isinstance(nonce, str) or not _PRINTABLE.fullmatch(nonce):
        raise invalid(f"{path}.nonce", "must be 1 to 128 printable characters")
    userid = f.text(body, "userid", f"{path}.userid", required=True)
    f.choice(
        body, "responsesignaturekey", f"{path}.responsesignaturekey", ["ATTESTATION"], default=None
    )
    f.choice(body, "responseformat", f"{path}.responseformat", ["jws"], default=None)
    profile = f.obj(body, "profile", f"{path}.profile", required=True) or {}
    f.text(profile, "servername", f"{path}.profile.servername", required=True)
    f.text(profile, "name", f"{path}.profile.name", required=True)
    key_requests = parse_key_requests(profile, f"{path}.profile")
    smartcard_id = _vscinfo(body, f"{path}.vscinfo")
    _desktop_extensions(body, f"{path}.desktopExtensions")
    _protection_level(body, path)
    return {
        "userid": userid,
        "nonce": nonce,
        "key_requests": key_requests,
        "smartcard_id": smartcard_id,
    }


def _cert(body: dict[str, Any], path: str) -> dict[str, Any]:
    items = f.lst(body, "certificates", f"{path}.certificates", required=True)
    if not items or len(items) > 16:
        raise invalid(f"{path}.certificates", "must have 1 to 16 entries")
    certificates = []
    for i, item in enumerate(items):
        item_path = f"{path}.certificates[{i}]"
        if not isinstance(item, dict):
            raise invalid(item_path, "must be an object")
        keyid = f.text(item, "keyid", f"{item_path}.keyid", required=True, max_length=100)
        f.choice(item, "keystate", f"{item_path}.keystate", KEYSTATES, default=None)
        data = item.get("data")
        if data is None:
            raise missing(f"{item_path}.data")
        try:
            certificate = parse_certificate_b64(data if isinstance(data, str) else "")
        except CryptoError:
            raise ProtocolError(
                "INVALID_CERTIFICATE",
                f"{item_path}.data is not a base64 DER X.509 certificate.",
                f"{item_path}.data",
            ) from None
        assert keyid is not None
        certificates.append(CertificateItem(keyid=keyid, der=certificate.der))
    smartcard_id = f.text(body, "smartcardid", f"{path}.smartcardid", required=False)
    _protection_level(body, path)
    return {
        "certificates": tuple(certificates),
        "smartcard_id": smartcard_id,
        "smartcard_field": f"{path}.smartcardid",
    }


def sign_format(params: Any) -> str:
    """The canonical (lowercase) ``format`` of auth/sign ``params``: ``jws`` by default,
    ``pkcs1`` spelled ``raw``. For a body that passed ``parse_command_request``."""
    value = params.get("format") if isinstance(params, dict) else None
    canonical = str(value or "jws").lower()
    return "raw" if canonical == "pkcs1" else canonical


def _sign(body: dict[str, Any], path: str, *, tbs_required: bool) -> dict[str, Any]:
    params = f.obj(body, "params", f"{path}.params", required=tbs_required) or {}
    for list_name in ("description", "tbs"):
        items = f.lst(params, list_name, f"{path}.params.{list_name}", required=False)
        if list_name == "tbs" and tbs_required and not items:
            raise invalid(f"{path}.params.tbs", "must have at least one item")
        for i, item in enumerate(items or []):
            item_path = f"{path}.params.{list_name}[{i}]"
            if not isinstance(item, dict):
                raise invalid(item_path, "must be an object")
            if list_name == "tbs" and item.get("data") is None:
                raise missing(f"{item_path}.data")
            if is_content_id_item(item):
                # A placeholder the content provider resolves (§13): its data is an id.
                check_content_id(item.get("data"), f"{item_path}.data")
                continue
            f.choice(
                item, "content_encoding", f"{item_path}.content_encoding", ["base64"], default=None
            )
            if item.get("data") is not None:
                f.base64_bytes(item["data"], f"{item_path}.data")
    filter_ = f.obj(params, "filter", f"{path}.params.filter", required=False)
    if filter_ is not None:
        f.choice(filter_, "op", f"{path}.params.filter.op", ["eq"], default=None)
        f.choice(filter_, "param", f"{path}.params.filter.param", FILTER_PARAMS, default=None)
        f.text(filter_, "value", f"{path}.params.filter.value", required=False, max_length=100)
    format_ = params.get("format")
    if format_ is not None and (
        not isinstance(format_, str) or format_.lower() not in SIGN_FORMATS
    ):
        raise invalid(f"{path}.params.format", f"must be one of {', '.join(SIGN_FORMATS)}")
    mechanism = f.text(
        params, "mechanism", f"{path}.params.mechanism", required=False, max_length=100
    )
    canonical = sign_format(params)
    if canonical == "raw" and (mechanism or DEFAULT_RAW_MECHANISM) not in RAW_RSA_MECHANISMS:
        raise invalid(
            f"{path}.params.mechanism",
            f"must be one of {', '.join(RAW_RSA_MECHANISMS)} for a raw signature",
        )
    return {"sign_format": canonical}


def _ping(body: dict[str, Any], path: str) -> dict[str, Any]:
    f.flag(body, "deviceinfo", f"{path}.deviceinfo", default=False)
    f.flag(body, "profileinfo", f"{path}.profileinfo", default=False)
    return {}


def _delete(body: dict[str, Any], path: str) -> dict[str, Any]:
    smartcard_id = _vscinfo(body, f"{path}.vscinfo")
    return {
        "confirmed": f.flag(body, "confirmed", f"{path}.confirmed", default=True),
        "smartcard_id": smartcard_id,
        "smartcard_field": f"{path}.vscinfo.smartcardid",
    }


def _spin(body: dict[str, Any], path: str) -> dict[str, Any]:
    f.choice(body, "operation", f"{path}.operation", SPIN_OPERATIONS, default=None)
    f.obj(body, "driver", f"{path}.driver", required=False)
    return {
        "smartcard_id": f.text(body, "smartcardid", f"{path}.smartcardid", required=False),
        "smartcard_field": f"{path}.smartcardid",
    }


def _epin(body: dict[str, Any], path: str) -> dict[str, Any]:
    nonce = body.get("encryptednonce")
    if nonce is None:
        raise missing(f"{path}.encryptednonce")
    if not isinstance(nonce, str) or not _HEX.fullmatch(nonce):
        raise invalid(f"{path}.encryptednonce", "must be hex")
    f.admin_key(body, "newadminkey", f"{path}.newadminkey")
    return {
        "smartcard_id": f.text(body, "smartcardid", f"{path}.smartcardid", required=False),
        "smartcard_field": f"{path}.smartcardid",
    }


_BODY_RULES = {
    CommandType.PROV: _prov,
    CommandType.CERT: _cert,
    CommandType.AUTH: lambda body, path: _sign(body, path, tbs_required=False),
    CommandType.SIGN: lambda body, path: _sign(body, path, tbs_required=True),
    CommandType.PING: _ping,
    CommandType.DELETE: _delete,
    CommandType.SPIN: _spin,
    CommandType.EPIN: _epin,
}


def parse_command_request(endpoint_name: str, raw: Any) -> CommandRequest:
    """Check a request body against docs/PROTOCOL.md §4–§5 for the endpoint it was posted to."""
    endpoint = ENDPOINTS[endpoint_name]
    if not isinstance(raw, dict):
        raise ProtocolError("INVALID_BODY", "The request body must be a JSON object.")
    if raw.get(endpoint.body_key) is None:
        others = sorted(k for k in BODY_KEYS & raw.keys() if k != endpoint.body_key)
        if others:
            raise ProtocolError(
                "WRONG_COMMAND",
                f"{others[0]} cannot be sent to /command/{endpoint.name}; "
                f"this endpoint takes {endpoint.body_key}.",
                others[0],
            )
        raise missing(endpoint.body_key)
    body = raw[endpoint.body_key]
    if not isinstance(body, dict):
        raise invalid(endpoint.body_key, "must be an object")
    header = _header(raw, endpoint)
    details = _BODY_RULES[endpoint.command_type](body, endpoint.body_key)
    pid = f.profile_id(body, "profileid", f"{endpoint.body_key}.profileid")
    kind = endpoint.command_type
    is_prov = kind is CommandType.PROV
    # A smart-card id addresses its profile when profileid is absent (§5.2, §5.4; seed 000).
    by_card = pid is None and kind in SMARTCARD_TYPES and bool(details.get("smartcard_id"))
    if not is_prov and not header.to_given and pid is None and not by_card:
        # Without `to`, the command goes to the profile its body names (docs/PROTOCOL.md §4.1); a
        # delete may instead name a user in `to` and leave profileid out (§5.4).
        is_delete = kind is CommandType.DELETE
        raise missing("commandHeader.to" if is_delete else f"{endpoint.body_key}.profileid")
    profileless_tmp = pid is None and not by_card and any(a.is_tmp for a in header.to)
    if not is_prov and profileless_tmp and kind not in PROFILELESS_TMP_TYPES:
        raise ProtocolError(
            "MISSING_FIELD",
            f"{endpoint.body_key}.profileid is required when commandHeader.to has @tmp.",
            f"{endpoint.body_key}.profileid",
        )
    if profileless_tmp and details.get("sign_format") == "raw":
        # Nothing in a raw PKCS#1 value names its signer: without a profile it verifies nothing.
        raise invalid(
            f"{endpoint.body_key}.params.format",
            "cannot be raw for @tmp without a profileid (a raw signature names no signer)",
        )
    return CommandRequest(
        endpoint=endpoint,
        header=header,
        body=body,
        profile_id=pid,
        userid=details.get("userid"),
        nonce=details.get("nonce"),
        key_requests=details.get("key_requests", ()),
        certificates=details.get("certificates", ()),
        smartcard_id=details.get("smartcard_id"),
        smartcard_field=details.get("smartcard_field"),
        sign_format=details.get("sign_format"),
        confirmed=details.get("confirmed", True),
        content=content_refs(endpoint.command_type.value, body, endpoint.body_key),
    )


# --- smart-card admin keys (§5.1, §5.4) -------------------------------------------------------

ADMIN_KEY_MASK = "********"
_VSCINFO_ADMIN_KEYS = ("adminkey", "oldadminkey")


def _admin_keys_replaced(body: dict[str, Any], mask: str | None) -> dict[str, Any] | None:
    """A copy of ``body`` with its admin keys masked (or removed, ``mask=None``); None when it
    carries none. Any command body, any shape: unknown members are kept as sent (§4.1)."""
    changed = dict(body)
    vscinfo = body.get("vscinfo")
    found = False
    if isinstance(vscinfo, dict) and any(k in vscinfo for k in _VSCINFO_ADMIN_KEYS):
        changed["vscinfo"] = {
            k: (mask if k in _VSCINFO_ADMIN_KEYS else v)
            for k, v in vscinfo.items()
            if mask is not None or k not in _VSCINFO_ADMIN_KEYS
        }
        found = True
    if "newadminkey" in body:
        if mask is None:
            del changed["newadminkey"]
        else:
            changed["newadminkey"] = mask
        found = True
    return changed if found else None


def admin_keys_masked(body: Any) -> Any:
    """The body to show a person: ``vscinfo.adminkey``, ``vscinfo.oldadminkey`` and
    ``newadminkey`` replaced by a mask. They are secrets of the smart card; only the device,
    while the command is in progress, needs them."""
    if not isinstance(body, dict):
        return body
    return _admin_keys_replaced(body, ADMIN_KEY_MASK) or body


def admin_keys_removed(body: Any) -> dict[str, Any] | None:
    """The body to keep once the command is final (no admin keys), or None if it had none."""
    return _admin_keys_replaced(body, None) if isinstance(body, dict) else None
