"""The answer envelope of docs/PROTOCOL.md §6 and what every answer builder shares.

`AnswerContext` is the fetched message plus the device state an answer may depend on; `Answer` is
the body to post plus what the device remembers once the server accepted it. A builder that cannot
comply raises `Refusal` and the device answers with the refusal code alone.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from hermod_core.crypto.digests import b64decode_strict
from hermod_core.crypto.errors import CryptoError
from hermod_core.crypto.jwk import PrivateKey
from hermod_core.emulator.faults import Faults
from hermod_core.emulator.keys import KeyFactory
from hermod_core.emulator.state import StoredProfile
from hermod_core.protocol.commands import ENDPOINTS

# commandType -> (command object key in the message, answer object key): the table of
# docs/PROTOCOL.md §4, as the protocol package holds it.
MESSAGE_KEYS: Final[dict[str, tuple[str, str]]] = {
    str(e.command_type): (e.body_key, e.answer_key) for e in ENDPOINTS.values()
}
# docs/PROTOCOL.md §6: the device's refusal codes.
CODE_OK: Final = 0
CODE_DECLINED: Final = 1
CODE_NO_MATCHING_KEY: Final = 2
CODE_NOT_SUPPORTED: Final = 3
CODE_DEVICE_ERROR: Final = 4


# Not named ...Error: a refusal is the device's deliberate answer (codes 1–4), not a failure.
class Refusal(Exception):
    """Raised while building an answer when the device cannot comply; answered as `code` alone."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class SigningClock:
    """The signingTime of the device's CMS signatures: now, but always after the previous one.

    A signingTime counts whole seconds (UTCTime) and an RSA PKCS#1 v1.5 signature is
    deterministic, so two signatures of the same tbs within one second would be the same bytes,
    which the server refuses as a replay (docs/PROTOCOL.md §6.3). A real app asks its user to
    confirm each signature; the reference device answers a whole box at once, so it counts on.
    (Signing more than once a second for minutes on end would run it past the server's five-minute
    skew allowance: no test or benchmark signs CMS at that rate with one device.)
    """

    def __init__(self) -> None:
        self._last: datetime | None = None

    def next(self) -> datetime:
        now = datetime.now(UTC).replace(microsecond=0)
        if self._last is not None and now <= self._last:
            now = self._last + timedelta(seconds=1)
        self._last = now
        return now


@dataclass(frozen=True)
class AnswerContext:
    """Everything an answer may depend on besides the message itself."""

    location: str  # the message URL the answer is posted to
    message: dict[str, Any]
    profile: StoredProfile | None  # the stored profile the message is for, when known
    profiles: tuple[StoredProfile, ...]
    attestation_key: PrivateKey
    deviceinfo: Mapping[str, str]
    faults: Faults
    quirky_jwk: bool
    new_key: KeyFactory
    signing_clock: SigningClock = field(default_factory=SigningClock)

    @property
    def header(self) -> dict[str, Any]:
        header = self.message.get("messageHeader")
        return header if isinstance(header, dict) else {}

    @property
    def command_type(self) -> str:
        return str(self.header.get("commandType", ""))

    def command(self, body_key: str) -> dict[str, Any]:
        """The command object; a device error (code 4) if the message does not carry one."""
        body = self.message.get(body_key)
        if not isinstance(body, dict):
            raise Refusal(CODE_DEVICE_ERROR, f"the message carries no {body_key}")
        return body


@dataclass(frozen=True)
class Answer:
    """An answer body and what to remember once the server answered COMPLETED."""

    command_type: str
    body: dict[str, Any]
    new_profile: StoredProfile | None = None
    certificates: dict[str, str] = field(default_factory=dict)
    delete_profile: bool = False
    spin_nonce: str | None = None
    new_admin_key: str | None = None
    shown: tuple[dict[str, Any], ...] = ()  # images the app displayed with the request

    @property
    def code(self) -> int:
        """The answer object's `code` (0 complied, 1–4 refused)."""
        answer: object = next((v for k, v in self.body.items() if k != "responseHeader"), None)
        return int(answer.get("code", -1)) if isinstance(answer, dict) else -1


def answer_key(context: AnswerContext) -> str:
    """The answer object's key; for an unknown type, its command key with `Response`."""
    known = MESSAGE_KEYS.get(context.command_type)
    if known is not None:
        return known[1]
    command_key = next((k for k in context.message if k.endswith("Command")), None)
    if command_key is not None:
        return command_key.removesuffix("Command") + "Response"
    return f"{context.command_type.lower()}Response"


def in_reply_to(context: AnswerContext) -> str:
    """The message's location (§6), or, with the `wrong_inreplyto` fault, another message's."""
    location = str(context.header.get("location") or context.location)
    if context.faults.wrong_inreplyto:
        return f"{location.rsplit('/', 1)[0]}/{uuid.uuid4()}"
    return location


def envelope(
    context: AnswerContext, code: int, result: dict[str, Any] | None = None
) -> dict[str, Any]:
    """`{"responseHeader": {...}, "<type>Response": {"code", "result"?}}` (docs/PROTOCOL.md §6)."""
    answer: dict[str, Any] = {"code": code}
    if result is not None:
        answer["result"] = result
    return {
        "responseHeader": {"inReplyTo": in_reply_to(context), "status": 200},
        answer_key(context): answer,
    }


def flag(value: object, *, default: bool) -> bool:
    """A protocol boolean: JSON true/false or the documented strings "true"/"false"."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return default


def decode_b64(value: object, what: str) -> bytes:
    """Base64 the way integrators send it; a device error (code 4) if it is not."""
    try:
        return b64decode_strict(value if isinstance(value, str) else "")
    except CryptoError:
        raise Refusal(CODE_DEVICE_ERROR, f"{what} is not base64") from None
