"""Bodies the server builds: plug-out URIs, the synchronous answer / result body (§4.2, §8) and
the message a device fetches (§6)."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit

PLUGOUT_SCHEME = "com.nexusgroup.plugout:///"
APP_LINK_SCHEME = "personal"  # the standard mobile app; branded apps register their own


def box_url(public_url: str, bid: str) -> str:
    return f"{public_url}/{bid}"


def message_location(public_url: str, bid: str, mid: str) -> str:
    return f"{public_url}/{bid}/{mid}"


def plugout_uri(box: str, token: str) -> str:
    """``com.nexusgroup.plugout:///?url=<percent-encoded box URL>&token=<token>`` (§1)."""
    return f"{PLUGOUT_SCHEME}?url={quote(box, safe='')}&token={quote(token, safe='')}"


def app_link(scheme: str, location: str, token: str, *, title: str = "", redirect: str = "") -> str:
    """The same-device link that opens a message in the mobile app, as the app's documentation
    writes it: ``<scheme>://<location without https://>?title=<title>&redirect=<url>``. The app
    puts ``https://`` back in front of the location. ``title`` is form-encoded (``My+title``),
    ``redirect`` percent-encoded (where the app returns after the user confirmed); the
    destination's one-time ``token`` follows (decided: the box opens only with it, §6)."""
    parts = urlsplit(location)
    without_scheme = location[len(parts.scheme) + 3 :] if parts.scheme else location
    return (
        f"{scheme}://{without_scheme}?title={quote_plus(title)}"
        f"&redirect={quote(redirect, safe='')}&token={quote(token, safe='')}"
    )


def fqdn(public_url: str) -> str:
    return urlsplit(public_url).hostname or ""


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class DestinationView:
    """One destination of a result body. ``state`` and ``fetched_at`` are its progress
    (docs/PROTOCOL.md §7: WAITING, FETCHED, ANSWERED, WITHDRAWN, EXPIRED), like BankID's hintCode
    for a page that polls: the app has opened the link, or not yet."""

    to: str
    bid: str
    mid: str | None
    uri: str | None
    location: str | None
    pid: str | None
    applink: str | None = None
    state: str | None = None
    fetched_at: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        # Member order as in the product documentation's examples; the progress members (not in
        # the documentation) come last, so existing readers see what they always saw first.
        body: dict[str, Any] = {"to": self.to, "bid": self.bid}
        if self.uri:
            body["uri"] = self.uri
        if self.pid:
            body["pid"] = self.pid
        if self.mid:
            body["mid"] = self.mid
        if self.location:
            body["location"] = self.location
        if self.applink:
            body["appLink"] = self.applink
        if self.state:
            body["state"] = self.state
            body["fetchedAt"] = iso(self.fetched_at) if self.fetched_at else None
        return body


@dataclass(frozen=True)
class KeyView:
    """One key of a provisioned profile, as its result body lists it."""

    keyid: str
    usage: str
    keytype: str
    keylength: int
    certreq: str

    def as_json(self) -> dict[str, Any]:
        return {
            "keyid": self.keyid,
            "usage": self.usage,
            "keytype": self.keytype,
            "keylength": self.keylength,
            "certreq": self.certreq,
        }


@dataclass(frozen=True)
class ProfileView:
    """The profile a completed provisioning created (``boxurl``: its permanent box's URL)."""

    id: str
    userid: str
    name: str
    servername: str
    boxurl: str | None
    keys: tuple[KeyView, ...]
    device_info: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "userid": self.userid,
            "name": self.name,
            "servername": self.servername,
            "boxurl": self.boxurl,
            "keys": [key.as_json() for key in self.keys],
            "deviceinfo": self.device_info,
        }


@dataclass(frozen=True)
class CertificateView:
    """A certificate the CA step issued for a provisioned key (docs/PROTOCOL.md §10)."""

    keyid: str
    data: str  # base64 DER
    subject: str
    issuer: str
    not_after: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "keyid": self.keyid,
            "data": self.data,
            "subject": self.subject,
            "issuer": self.issuer,
            "notAfter": self.not_after.isoformat(),
        }


@dataclass(frozen=True)
class ResultView:
    """Everything the result body of a command shows, as plain values: gathered by a selector
    (``selectors.commands.command_result_view``), rendered by ``result_body``."""

    command_id: int
    external_id: str | None
    command_type: str
    state: str
    fqdn: str
    destinations: tuple[DestinationView, ...]
    answer: dict[str, Any] | None = None  # the device's whole answer envelope
    answer_key: str = ""
    profile: ProfileView | None = None
    certificates: tuple[CertificateView, ...] = ()
    failure_code: str = ""
    failure_reason: str = ""
    # Auth/sign, once answered: what the server established of the signature (decided).
    signature: dict[str, Any] | None = None
    # The certificate authority step of docs/PROTOCOL.md §10 (decided: reported as "ca").
    ca_state: str = ""
    ca_error: str = ""


def result_body(view: ResultView) -> dict[str, Any]:
    """The synchronous answer, poll answer and callback body (§4.2, §8).

    Once the device answered, its ``responseHeader`` and answer object are included unchanged,
    as in the documentation's example of a completed provisioning.
    """
    body: dict[str, Any] = {}
    if view.answer is not None:
        if "responseHeader" in view.answer:
            body["responseHeader"] = view.answer["responseHeader"]
        if view.answer_key in view.answer:
            body[view.answer_key] = view.answer[view.answer_key]
    body["commandId"] = str(view.command_id)
    if view.external_id is not None:
        body["externalId"] = view.external_id
    body["destinations"] = [d.as_json() for d in view.destinations]
    body["commandType"] = view.command_type
    body["state"] = view.state
    body["fqdn"] = view.fqdn
    if view.failure_code:
        body["failure"] = {"code": view.failure_code, "message": view.failure_reason}
    if view.profile is not None:
        body["profile"] = view.profile.as_json()
    if view.certificates:
        body["certificates"] = [certificate.as_json() for certificate in view.certificates]
    if view.signature is not None:
        # VERIFIED or NOT_VERIFIED_BY_SERVER; a profile-less @tmp answer also names its signer
        # certificate and, when its key is a known profile's, that profile.
        body["verification"] = view.signature.get("verification")
        if "signer" in view.signature:
            body["signer"] = view.signature["signer"]
        if "profile" in view.signature and view.profile is None:
            body["profile"] = view.signature["profile"]
    if view.ca_state:
        body["ca"] = {"state": view.ca_state}
        if view.ca_error:
            body["ca"]["error"] = view.ca_error
    return body
