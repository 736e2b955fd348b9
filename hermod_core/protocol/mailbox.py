"""The bodies a device reads from its box (docs/PROTOCOL.md §6): the box listing and one message.

Pure: built from plain values that ``selectors.mailbox`` gathers, so the wire shape is decided in
one place and tested without a database.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hermod_core.lifecycle import DestinationState
from hermod_core.protocol.commands import BY_TYPE, CommandType
from hermod_core.protocol.results import box_url, fqdn, iso, message_location


def message_expires(*, state: str, expires_at: datetime, command_expires_at: datetime) -> datetime:
    """Until when the device may answer a message: a FETCHED message as long as its command runs
    (its own lifespan no longer applies once fetched), a waiting one until whichever of its own
    and its command's deadlines comes first."""
    if state == DestinationState.FETCHED:
        return command_expires_at
    return min(expires_at, command_expires_at)


@dataclass(frozen=True)
class BoxEntry:
    """One message as the box listing shows it."""

    mid: str
    command_type: str
    expires: datetime


def box_body(*, public_url: str, bid: str, entries: Iterable[BoxEntry]) -> dict[str, Any]:
    """``GET /ms/{bid}``: the box and its messages, in the order given (oldest first)."""
    return {
        "bid": bid,
        "messages": [
            {
                "mid": entry.mid,
                "location": message_location(public_url, bid, entry.mid),
                "commandType": entry.command_type,
                "expires": iso(entry.expires),
            }
            for entry in entries
        ],
    }


@dataclass(frozen=True)
class Assignment:
    """What a provisioning message assigns the device: its profile id and permanent box."""

    profile_id: str
    box_id: str


@dataclass(frozen=True)
class DeviceMessage:
    """One message as a device fetches it. ``command`` is the command object as the device
    receives it (the stored body with resolved content merged in, docs/PROTOCOL.md §13)."""

    mid: str
    bid: str
    command_id: int
    command_type: str
    expires: datetime
    command: dict[str, Any]
    assigned: Assignment | None = None


def message_body(*, public_url: str, message: DeviceMessage) -> dict[str, Any]:
    """``GET /ms/{bid}/{mid}``: the message header, the command object under its type's key and,
    for a provisioning, what it assigns. The box token is not here: only the device whose answer
    is accepted receives it."""
    endpoint = BY_TYPE[CommandType(message.command_type)]
    body: dict[str, Any] = {
        "messageHeader": {
            "mid": message.mid,
            "bid": message.bid,
            "location": message_location(public_url, message.bid, message.mid),
            "commandId": str(message.command_id),
            "commandType": message.command_type,
            "fqdn": fqdn(public_url),
            "expires": iso(message.expires),
        },
        endpoint.body_key: message.command,
    }
    if message.assigned is not None:
        body["assigned"] = {
            "profileid": message.assigned.profile_id,
            "boxurl": box_url(public_url, message.assigned.box_id),
        }
    return body
