"""The one shape every push provider shares.

A notice carries ids and the type only, never the message content or a token, so a push
service learns nothing it could use (issue 12): the app wakes, then fetches from its box.
"""

import enum
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class PushNotice:
    """What the device is told: the real product's relay body, member for member.

    ``{"messageId": "<uuid>", "pushId": "<profile id>", "requestor": "<display name>",
    "type": "AUTH"}``
    """

    message_id: str
    push_id: str
    requestor: str
    type: str

    def as_relay_body(self) -> dict[str, str]:
        return {
            "messageId": self.message_id,
            "pushId": self.push_id,
            "requestor": self.requestor,
            "type": self.type,
        }


@dataclass(frozen=True)
class PushTarget:
    """Where a device asked to be woken: ``PUT /ms/{bid}/push`` ``{"provider", "token", "os"}``.

    ``token`` is the provider's address of the app: an FCM registration token, an APNs device
    token (hex), a Web Push subscription (JSON text with ``endpoint`` and ``keys``), or for
    ``relay`` the device token the notification server knows.
    """

    provider: str
    token: str
    os: str


class PushOutcome(enum.Enum):
    DELIVERED = "DELIVERED"  # the provider accepted the notice
    RETRY = "RETRY"  # transient: provider down, 429, 5xx, timeout; try again with backoff
    UNREGISTERED = "UNREGISTERED"  # the token is dead (410, Unregistered, BadDeviceToken...)
    REJECTED = "REJECTED"  # permanent for this notice (bad credentials, 400): do not retry


@dataclass(frozen=True)
class PushResult:
    outcome: PushOutcome
    detail: str = ""  # one line for the console: "HTTP 410 Unregistered", "connection refused"
    status: int | None = None  # the provider's HTTP status, when there was one


class PushProvider(Protocol):
    """A configured provider of one group; ``send`` never raises for network or HTTP errors:
    it classifies them into a ``PushResult``."""

    def send(self, target: PushTarget, notice: PushNotice) -> PushResult: ...
