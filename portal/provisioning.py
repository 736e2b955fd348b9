"""The console's provisioning form as data, and the ``/command/provision`` body it stands for.

``ProvisionSpec`` is what an admin fills in (docs/PROTOCOL.md §5.1, desktop options included);
``provision_body`` turns it into the JSON body an integrator would POST, template CSRs built by
the server. The body is then checked and created exactly as the API does it.
"""

import base64
import secrets
from dataclasses import asdict, dataclass, replace
from typing import Any

from hermod_core.crypto.csr import SUBJECT_ATTRIBUTES, make_dummy_csr, parse_csr_b64
from hermod_core.crypto.errors import CryptoError
from hermod_core.crypto.jwk import PrivateKey
from hermod_core.protocol.commands import BOOLEAN_EXTENSIONS

# Subject attributes the form offers, in the order they appear in the template's subject.
SUBJECT_FIELDS = ("C", "ST", "L", "O", "OU", "CN", "emailAddress", "serialNumber", "UID")
USERID_PLACEHOLDER = "{userid}"


@dataclass(frozen=True)
class KeySpec:
    """One ``keygenrequests`` entry."""

    keyid: str
    usage: str
    keytype: str
    keylength: int
    mechanism: str
    storages: tuple[str, ...] = ("APP",)
    keystate: str = "ACTIVE"


@dataclass(frozen=True)
class ProvisionSpec:
    """Everything a provisioning request is made of; ``{userid}`` in the subject is replaced by
    the user id (bulk uploads share one spec)."""

    userid: str
    profile_name: str
    servername: str
    subject: tuple[tuple[str, str], ...]
    keys: tuple[KeySpec, ...]
    lifespan: int = 300
    timeout: int = 300
    external_id: str = ""
    smartcardid: str = ""
    adminkey: str = ""
    oldadminkey: str = ""
    provisionreader: str = ""
    flags: tuple[tuple[str, str], ...] = ()  # (extension key, "true"/"false")
    congratsmessage: str = ""
    protection_level: str = ""

    def for_user(self, userid: str, overrides: dict[str, str] | None = None) -> "ProvisionSpec":
        """The spec for one user: ``{userid}`` filled in, subject attributes overridden."""
        overrides = overrides or {}
        subject = []
        names = [name for name, _ in self.subject]
        for name, value in self.subject:
            subject.append((name, overrides.get(name, value).replace(USERID_PLACEHOLDER, userid)))
        for name in SUBJECT_FIELDS:
            if name in overrides and name not in names and overrides[name]:
                subject.append((name, overrides[name]))
        return replace(self, userid=userid, subject=tuple(subject))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ProvisionSpec":
        values = dict(data)
        values["subject"] = tuple(tuple(pair) for pair in values["subject"])
        values["flags"] = tuple(tuple(pair) for pair in values.get("flags", ()))
        values["keys"] = tuple(
            KeySpec(**{**key, "storages": tuple(key["storages"])}) for key in values["keys"]
        )
        return cls(**values)


def _key_request(key: KeySpec, certreq: str) -> dict[str, Any]:
    return {
        "keyid": key.keyid,
        "usage": key.usage,
        "keytypeprios": [
            {
                "keytype": key.keytype,
                "keylength": str(key.keylength),
                "responsemechanism": key.mechanism,
            }
        ],
        "storageprios": list(key.storages),
        "keystate": key.keystate,
        "certreq": certreq,
    }


def _extensions(spec: ProvisionSpec) -> list[dict[str, str]]:
    extensions = []
    if spec.provisionreader:
        extensions.append({"key": "provisionreader", "data": spec.provisionreader})
    extensions.extend({"key": key, "data": value} for key, value in spec.flags if value)
    if spec.congratsmessage:
        extensions.append({"key": "congratsmessage", "data": spec.congratsmessage})
    return extensions


def provision_body(
    spec: ProvisionSpec, *, template_key: PrivateKey | None = None
) -> dict[str, Any]:
    """The ``/command/provision`` request body of a spec, with a fresh nonce.

    Each key request gets a template CSR of the spec's subject signed by a throw-away key (the
    device re-keys it, docs/PROTOCOL.md §5.1). ``template_key`` lets a bulk job sign every template
    with one throw-away key instead of generating one per request; it is discarded either way.
    """
    subject = {name: value for name, value in spec.subject if value}
    certreq = base64.b64encode(make_dummy_csr(subject, key=template_key)).decode("ascii")
    header: dict[str, Any] = {"to": ["@tmp"], "lifespan": spec.lifespan, "timeout": spec.timeout}
    if spec.external_id:
        header["externalId"] = spec.external_id
    command: dict[str, Any] = {
        "nonce": secrets.token_hex(16),
        "userid": spec.userid,
        "responsesignaturekey": "ATTESTATION",
        "responseformat": "jws",
        "profile": {
            "servername": spec.servername,
            "name": spec.profile_name,
            "keygenrequests": [_key_request(key, certreq) for key in spec.keys],
        },
    }
    vscinfo = {
        name: value
        for name, value in (
            ("smartcardid", spec.smartcardid),
            ("adminkey", spec.adminkey),
            ("oldadminkey", spec.oldadminkey),
        )
        if value
    }
    if vscinfo:
        command["vscinfo"] = vscinfo
    extensions = _extensions(spec)
    if extensions:
        command["desktopExtensions"] = extensions
    if spec.protection_level:
        command["desktopKeyProtectionLevel"] = spec.protection_level
    return {"commandHeader": header, "provCommand": command}


def congrats_message(body: dict[str, Any]) -> str:
    """The ``congratsmessage`` desktop extension of a stored provCommand, or ""."""
    for extension in body.get("desktopExtensions") or []:
        if isinstance(extension, dict) and extension.get("key") == "congratsmessage":
            data = extension.get("data")
            return data if isinstance(data, str) else ""
    return ""


def _subject_of(keygenrequests: list[Any]) -> dict[str, str]:
    """The template subject of a stored request (its first template CSR), by form name."""
    for request in keygenrequests:
        certreq = request.get("certreq") if isinstance(request, dict) else None
        if isinstance(certreq, str):
            try:
                subject = parse_csr_b64(certreq).subject
            except CryptoError:
                return {}
            names = {oid: name for name, oid in SUBJECT_ATTRIBUTES.items()}
            return {
                names[attribute.oid]: str(attribute.value)
                for attribute in subject
                if attribute.oid in names and names[attribute.oid] in SUBJECT_FIELDS
            }
    return {}


def _key_initial(request: dict[str, Any]) -> dict[str, str]:
    prios = request.get("keytypeprios") or [{}]
    first = prios[0] if isinstance(prios[0], dict) else {}
    return {
        "keyid": str(request.get("keyid", "")),
        "usage": str(request.get("usage", "SIG")),
        "keytype": f"{first.get('keytype', 'RSA')}-{first.get('keylength', '2048')}",
        "mechanism": str(first.get("responsemechanism", "")),
        "storages": ",".join(str(s) for s in request.get("storageprios") or ["APP"]),
        "keystate": str(request.get("keystate", "ACTIVE")),
    }


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def form_initial(
    body: dict[str, Any], *, lifespan: int, timeout: int, external_id: str
) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The provisioning form's values (and its key rows) for a stored provCommand, so that
    "Issue a new request" starts from the old one. The user id in subject values goes back
    to ``{userid}``; the smart-card admin keys are secrets and are typed again."""
    userid = str(body.get("userid", ""))
    profile = _object(body.get("profile"))
    requests = [r for r in profile.get("keygenrequests") or [] if isinstance(r, dict)]
    initial: dict[str, Any] = {
        "userid": userid,
        "profile_name": profile.get("name", ""),
        "servername": profile.get("servername", ""),
        "lifespan": lifespan,
        "timeout": timeout,
        "external_id": external_id,
        "protection_level": body.get("desktopKeyProtectionLevel", ""),
        "congratsmessage": congrats_message(body),
    }
    for name, value in _subject_of(requests).items():
        initial[f"subject_{name}"] = value.replace(userid, USERID_PLACEHOLDER) if userid else value
    vscinfo = _object(body.get("vscinfo"))
    initial["smartcardid"] = vscinfo.get("smartcardid", "")
    for extension in body.get("desktopExtensions") or []:
        if not isinstance(extension, dict):
            continue
        key, data = extension.get("key"), extension.get("data")
        if key == "provisionreader":
            initial["provisionreader"] = data
        elif key in BOOLEAN_EXTENSIONS:
            initial[f"flag_{key}"] = data
    return initial, [_key_initial(request) for request in requests]
