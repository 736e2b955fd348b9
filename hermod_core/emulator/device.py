"""The reference device: a scriptable stand-in for the mobile and desktop authenticator apps.

It speaks only the device side of docs/PROTOCOL.md §6 over HTTP — open a plug-out URI or a permanent
box, fetch each message, answer it — and keeps what a real app keeps (attestation key, profiles,
keys, certificates) in a state folder. It never touches the server's code or database, so what
passes here passes for a real app too. Deliberate faults (`Faults`) let tests prove that the
server refuses each kind of broken answer.
"""

from __future__ import annotations

import logging
import platform
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests

from hermod_core.crypto.jwk import PrivateKey
from hermod_core.emulator.answers import build_answer
from hermod_core.emulator.envelope import MESSAGE_KEYS, Answer, AnswerContext, SigningClock
from hermod_core.emulator.faults import Faults
from hermod_core.emulator.http import DeviceError, MailboxClient
from hermod_core.emulator.keys import KeyFactory, generate_key
from hermod_core.emulator.state import DeviceState, StoredKey, StoredProfile

__all__ = [
    "AnswerOutcome",
    "Device",
    "DeviceError",
    "Faults",
    "StoredKey",
    "StoredProfile",
    "parse_target",
]

logger = logging.getLogger(__name__)

PLUGOUT_SCHEME: Final = "com.nexusgroup.plugout"
DEFAULT_DEVICE_NAME: Final = "hermod-device"
_SHOWN_KEPT: Final = 20  # images of the latest requests a profile remembers


@dataclass(frozen=True)
class AnswerOutcome:
    """What the server said to one answer: its HTTP status and JSON body.

    `body` is `{"state": "COMPLETED" | "FAILED"}` on 200, else the error body
    `{"error": {"code", "message"}}` (422 invalid answer, 409 answered before, 404 dead token).
    """

    mid: str
    command_type: str
    http_status: int
    body: dict[str, Any]

    @property
    def state(self) -> str | None:
        state = self.body.get("state")
        return str(state) if self.http_status == 200 and state is not None else None

    @property
    def completed(self) -> bool:
        return self.state == "COMPLETED"

    @property
    def error(self) -> dict[str, Any] | None:
        error = self.body.get("error")
        return error if isinstance(error, dict) else None

    def as_json(self) -> dict[str, Any]:
        """The CLI's output line: `{"mid", "commandType", "status", "state" | "error"}`."""
        line: dict[str, Any] = {
            "mid": self.mid,
            "commandType": self.command_type,
            "status": self.http_status,
        }
        if self.state is not None:
            line["state"] = self.state
        else:
            line["error"] = self.error or {"code": f"HTTP_{self.http_status}", "message": ""}
        return line


@dataclass(frozen=True)
class Target:
    """Where `enroll` goes: a box to list (plug-out URI) or one message location, and a token."""

    box_url: str | None
    location: str | None
    token: str


def _without_token(url: str) -> tuple[str, str | None]:
    """`url` without a `token` query parameter, and that token (sent as a header instead)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    token = next((value for name, value in query if name == "token"), None)
    rest = urlencode([(name, value) for name, value in query if name != "token"])
    return urlunsplit(parts._replace(query=rest)), token


def parse_target(
    uri_or_location: str, token: str | None = None, *, app_link_scheme: str = "https"
) -> Target:
    """Read a plug-out URI (`com.nexusgroup.plugout:///?url=<box>&token=<t>`, docs/PROTOCOL.md §1),
    a same-device app link (`personal://<host>/<path>/<bid>/<mid>?title=&redirect=&token=<t>`,
    any other scheme: the app puts `https://` back in front, or `app_link_scheme`) or a message
    URL `<public-url>/<bid>/<mid>` (token from `token` or its `?token=`).

    An explicit `token` wins over the one in the URI. Raises `DeviceError` (`BAD_URI`,
    `NO_TOKEN`) for anything else.
    """
    text = uri_or_location.strip()
    parts = urlsplit(text)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    is_app_link = bool({"title", "redirect", "token"} & query.keys())
    if is_app_link and parts.scheme.lower() not in (PLUGOUT_SCHEME, "http", "https"):
        if not parts.netloc:
            raise DeviceError("the app link names no server", code="BAD_URI")
        chosen = token or query.get("token")
        if not chosen:
            raise DeviceError("the app link has no token", code="NO_TOKEN")
        location = f"{app_link_scheme}://{parts.netloc}{parts.path}"
        return Target(box_url=None, location=location, token=chosen)
    if parts.scheme.lower() == PLUGOUT_SCHEME:
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        box_url = query.get("url", "")
        if urlsplit(box_url).scheme not in ("http", "https"):
            raise DeviceError("the plug-out URI has no http(s) url parameter", code="BAD_URI")
        chosen = token or query.get("token")
        if not chosen:
            raise DeviceError("the plug-out URI has no token", code="NO_TOKEN")
        return Target(box_url=box_url, location=None, token=chosen)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise DeviceError(
            f"expected a {PLUGOUT_SCHEME}:/// URI or an http(s) message URL", code="BAD_URI"
        )
    location, query_token = _without_token(text)
    chosen = token or query_token
    if not chosen:
        raise DeviceError("a message URL needs a token (--token)", code="NO_TOKEN")
    return Target(box_url=None, location=location, token=chosen)


def default_deviceinfo(name: str = DEFAULT_DEVICE_NAME) -> dict[str, str]:
    """`deviceinfo` as the apps report it: operating system, device name, app model/version."""
    return {
        "operatingsystem": f"{platform.system()} {platform.release()}".strip(),
        "name": name,
        "model": "Hermod reference device 1",
    }


class Device:
    """One emulated installation of the authenticator app, living in `state_dir`.

    `enroll` opens a plug-out URI (or one message URL) and answers what is waiting there;
    `run_once` polls every stored profile's permanent box with its box token and answers every
    waiting message. The state folder is updated only after the server answered COMPLETED, so
    it always mirrors what the server recorded.

    Options: `faults` (deliberate faults), `decline` (answer code 1 to everything),
    `quirky_jwk` (JWKs spelled like real apps), `attestation` ("rsa" / "ec", used only when the
    folder is new), `token_in_query` (`?token=` instead of a Bearer header), `key_factory`
    (`(keytype, keylength) -> private key`; tests pass pre-generated keys), `deviceinfo`,
    `app_link_http` (open app links over http, for test servers without TLS).
    """

    def __init__(
        self,
        state_dir: Path,
        *,
        session: requests.Session | None = None,
        faults: Faults = Faults(),  # noqa: B008 — frozen, so one shared default is safe
        decline: bool = False,
        quirky_jwk: bool = False,
        attestation: str = "rsa",
        token_in_query: bool = False,
        key_factory: KeyFactory | None = None,
        deviceinfo: Mapping[str, str] | None = None,
        app_link_http: bool = False,
    ) -> None:
        self.key_factory: KeyFactory = key_factory or generate_key
        self.state = DeviceState(Path(state_dir), attestation=attestation, new_key=self.key_factory)
        self.http = MailboxClient(session, token_in_query=token_in_query)
        self.faults = faults
        self.decline = decline
        self.quirky_jwk = quirky_jwk
        self.signing_clock = SigningClock()
        self.deviceinfo: dict[str, str] = dict(deviceinfo or default_deviceinfo())
        self.app_link_http = app_link_http

    @property
    def profiles(self) -> list[StoredProfile]:
        """The provisioned profiles, oldest first (a copy of the list; the items are live)."""
        return list(self.state.profiles)

    @property
    def attestation_key(self) -> PrivateKey:
        return self.state.attestation_key

    # --- the lower-level steps -----------------------------------------------------------------

    def fetch(self, location: str, token: str) -> dict[str, Any]:
        """`GET <location>`: the message (marks it FETCHED on the server). `DeviceError` if the
        server does not answer 200 (404: unknown, answered, withdrawn or expired)."""
        return self.http.fetch(location, token)

    def _profile_for(self, location: str, message: dict[str, Any]) -> StoredProfile | None:
        # A permanent box belongs to one profile; a temporary box (browser plug-out) names the
        # profile in the command body instead.
        profile = self.state.profile_for_box(location.rsplit("/", 1)[0])
        if profile is not None:
            return profile
        command_type = str((message.get("messageHeader") or {}).get("commandType", ""))
        body_key = MESSAGE_KEYS.get(command_type, ("", ""))[0]
        body = message.get(body_key)
        profile_id = body.get("profileid") if isinstance(body, dict) else None
        return self.state.profile(str(profile_id)) if profile_id else None

    def _context(self, location: str, message: dict[str, Any]) -> AnswerContext:
        return AnswerContext(
            location=location,
            message=message,
            profile=self._profile_for(location, message),
            profiles=tuple(self.state.profiles),
            attestation_key=self.state.attestation_key,
            deviceinfo=self.deviceinfo,
            faults=self.faults,
            quirky_jwk=self.quirky_jwk,
            new_key=self.key_factory,
            signing_clock=self.signing_clock,
        )

    def build_answer(self, location: str, message: dict[str, Any]) -> Answer:
        """The answer this device would post to `location` for `message` (nothing is sent)."""
        return build_answer(self._context(location, message), decline=self.decline)

    def answer(self, location: str, token: str, message: dict[str, Any]) -> AnswerOutcome:
        """Build the answer to `message`, `POST` it to `location`, and remember its effects
        (new profile, certificates, PIN-reset nonce, admin key, deletion) if COMPLETED."""
        context = self._context(location, message)
        built = build_answer(context, decline=self.decline)
        result = self.http.post_answer(location, token, built.body)
        outcome = AnswerOutcome(
            mid=str(context.header.get("mid") or location.rsplit("/", 1)[-1]),
            command_type=context.command_type,
            http_status=result.status,
            body=result.body,
        )
        if outcome.completed:
            self.remember(built, result.body, context.profile)
        return outcome

    def remember(
        self,
        answer: Answer,
        server_body: dict[str, Any],
        profile: StoredProfile | None = None,
    ) -> None:
        """Keep what a COMPLETED answer established (new profile with the box token from the
        server's `server_body`, certificates, PIN-reset nonce, admin key, deletion); for callers
        that post `build_answer`'s answer themselves."""
        if answer.new_profile is not None:
            # The server gives the box token only in its answer to the accepted provisioning.
            boxtoken = server_body.get("boxtoken")
            answer.new_profile.boxtoken = boxtoken if isinstance(boxtoken, str) else ""
            self.state.put(answer.new_profile)
        if profile is None:
            return
        if answer.delete_profile:
            self.state.remove(profile.profile_id)
            return
        profile.certificates.update(answer.certificates)
        if answer.shown:
            location = str(answer.body.get("responseHeader", {}).get("inReplyTo", ""))
            shown = [{**image, "location": location} for image in answer.shown]
            profile.shown = [*profile.shown, *shown][-_SHOWN_KEPT:]
        if answer.spin_nonce is not None:
            profile.spin_nonce = answer.spin_nonce
        if answer.new_admin_key is not None:
            profile.vscinfo = {**profile.vscinfo, "adminkey": answer.new_admin_key}
        self.state.save()

    # --- what an app does ----------------------------------------------------------------------

    def enroll(self, uri_or_location: str, token: str | None = None) -> AnswerOutcome:
        """Open a plug-out URI, an app link (or one message URL with `token`) and answer its
        message.

        For a plug-out URI the box is listed and its oldest message answered (a temporary box
        holds one). Raises `DeviceError` when the URI is malformed, the box does not open
        (404: wrong, used or expired token) or nothing is waiting.
        """
        target = parse_target(
            uri_or_location, token, app_link_scheme="http" if self.app_link_http else "https"
        )
        location = target.location
        if location is None:
            assert target.box_url is not None
            waiting = self.http.list_box(target.box_url, target.token)
            if not waiting or not isinstance(waiting[0].get("location"), str):
                raise DeviceError("no message is waiting in the box", code="NO_MESSAGE")
            location = str(waiting[0]["location"])
        return self.answer(location, target.token, self.fetch(location, target.token))

    def rotate_box_token(self, profile_id: str) -> str:
        """Replace a stored profile's box token by a new one from the server (the old one stops
        opening the box at once); returns the new token. `DeviceError` for an unknown profile
        or a box that does not open (404: revoked, or the profile deleted)."""
        profile = self.state.profile(profile_id)
        if profile is None or not profile.boxtoken:
            raise DeviceError(f"no profile {profile_id} with a box token", code="NO_PROFILE")
        profile.boxtoken = self.http.rotate_box_token(profile.boxurl, profile.boxtoken)
        self.state.save()
        return profile.boxtoken

    def run_once(self) -> list[AnswerOutcome]:
        """One pass over every stored profile's permanent box: answer each waiting message.

        A box that no longer opens (404: the profile was deleted on the server) and a message
        that vanished between listing and fetching (withdrawn: another device answered first)
        are skipped, not errors. Returns one outcome per answer posted, in order.
        """
        outcomes: list[AnswerOutcome] = []
        for profile in list(self.state.profiles):
            if not profile.boxtoken or self.state.profile(profile.profile_id) is None:
                continue  # no box token (own ids), or deleted earlier in this pass
            try:
                waiting = self.http.list_box(profile.boxurl, profile.boxtoken)
            except DeviceError as exc:
                if exc.http_status != 404:
                    raise
                logger.warning("box of profile %s does not open (404)", profile.profile_id)
                continue
            for entry in waiting:
                location = entry.get("location")
                if not isinstance(location, str):
                    continue
                try:
                    message = self.fetch(location, profile.boxtoken)
                except DeviceError as exc:
                    if exc.http_status != 404:
                        raise
                    continue
                outcomes.append(self.answer(location, profile.boxtoken, message))
        return outcomes
