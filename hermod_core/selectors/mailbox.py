"""The device side's reads (docs/PROTOCOL.md §6): which box a token opens, the messages a device
may list, fetch and answer, and a message as the device receives it (gathered into the plain
values of ``protocol.mailbox``). The writes (answers, FETCHED, token rotation) are services."""

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import BooleanField, ExpressionWrapper, Q
from django.utils import timezone

from hermod_core import sql
from hermod_core.crypto.tokens import digest_matches
from hermod_core.lifecycle import OPEN_DESTINATIONS
from hermod_core.models import (
    Command,
    CommandState,
    ContentResolution,
    ContentResolutionState,
    Message,
    MessageState,
)
from hermod_core.protocol.commands import BY_TYPE, CommandType
from hermod_core.protocol.content import content_refs, merge
from hermod_core.protocol.mailbox import Assignment, BoxEntry, DeviceMessage, message_expires

_OPEN = [s.value for s in OPEN_DESTINATIONS]


class BoxNotFound(Exception):
    """Unknown box, unknown message, or a wrong, used, withdrawn or expired token: all alike."""


def live_messages(now: datetime) -> Q:
    """Messages whose token still opens their box: open, command in progress and not past due.

    The times are checked here too, so a token dies exactly at its deadline even before the
    expiry sweep has run.
    """
    return (
        Q(state__in=_OPEN)
        & Q(command__state=CommandState.IN_PROGRESS)
        & Q(command__expires_at__gt=now)
        & (Q(state=MessageState.FETCHED) | Q(expires_at__gt=now))
    )


def visible_messages(now: datetime) -> Q:
    """Live messages a device may list, fetch and answer: those whose content ids, if any, the
    content provider has resolved (docs/PROTOCOL.md §13). Until then the token opens the box, but
    the box looks empty."""
    return live_messages(now) & Q(command__content_ready=True)


@dataclass(frozen=True)
class BoxAccess:
    """What a token opens: a whole permanent box (box token) or, for a destination's one-time
    token, only that destination's message in its box (``message_id``, decided): a plug-out link
    shown in a browser must not expose the other messages of a profile's box.

    For a one-time token ``message`` is that message as ``mailbox_open`` read it, with its command
    and profile, and ``live`` says whether its token still opened the box then: the list, fetch
    and answer of the same request use it instead of reading the row again.
    """

    mailbox_id: uuid.UUID
    message_id: uuid.UUID | None = None
    message: Message | None = field(default=None, compare=False, repr=False)
    live: bool = field(default=False, compare=False, repr=False)

    def allows(self, mid: uuid.UUID) -> bool:
        return self.message_id is None or self.message_id == mid

    def preloaded(self, mid: uuid.UUID) -> Message | None:
        """The message ``mid`` if the opening already read it."""
        if self.message is not None and self.message.pk == mid:
            return self.message
        return None


# Compared against when the box does not exist, so that an unknown box costs the same
# comparison as a wrong token.
_NO_DIGEST = "0" * 64


def box_token_opens(*, bid: uuid.UUID, token_hash: str) -> bool:
    """Whether ``token_hash`` is the digest of the box token of the open permanent box ``bid``.

    The most frequent statement of the device API (every list, fetch and answer with a box token),
    so a tuned statement (``hermod_core.sql``). The stored digest is compared in constant time; a
    revoked token (empty digest) matches nothing.
    """
    return digest_matches(token_hash, sql.open_box_token_hash(bid), _NO_DIGEST)


def mailbox_open(*, bid: uuid.UUID, token_hash: str | None, for_answer: bool = False) -> BoxAccess:
    """The box a presented token opens (a destination's one-time token or a permanent box's box
    token), given the token's digest (``services.credentials.presented_token_hash``; None when
    no token could be one)."""
    if token_hash is None:
        raise BoxNotFound
    # Box tokens first: provisioned devices polling their box are the most frequent callers.
    if box_token_opens(bid=bid, token_hash=token_hash):
        return BoxAccess(mailbox_id=bid)
    # A one-time token is found by its keyed digest (unique, indexed): the lookup compares
    # digests of random tokens, so its timing tells nothing about any token.
    message = (
        Message.objects.filter(token_hash=token_hash, mailbox_id=bid)
        .annotate(live=ExpressionWrapper(live_messages(timezone.now()), BooleanField()))
        .select_related("command", "profile")
        .first()
    )
    if message is None:
        raise BoxNotFound
    access = BoxAccess(mailbox_id=bid, message_id=message.pk, message=message, live=message.live)
    if message.live:
        return access
    if for_answer and message.state == MessageState.ANSWERED:
        return access  # a second answer to its own message gets 409, not 404
    raise BoxNotFound


def _expires(message: Message) -> datetime:
    return message_expires(
        state=message.state,
        expires_at=message.expires_at,
        command_expires_at=message.command.expires_at,
    )


def message_list_for_box(*, access: BoxAccess) -> list[BoxEntry]:
    """The messages waiting in the box that the token opens, oldest first."""
    if access.message is not None:
        # A one-time token: only its message, as read when the box was opened.
        shown = access.live and access.message.command.content_ready
        messages = [access.message] if shown else []
    else:
        listed = (
            Message.objects.filter(visible_messages(timezone.now()), mailbox_id=access.mailbox_id)
            .select_related("command")
            .only("id", "state", "expires_at", "command__command_type", "command__expires_at")
            .order_by("created_at", "id")
        )
        if access.message_id is not None:
            listed = listed.filter(pk=access.message_id)
        messages = list(listed)
    return [
        BoxEntry(mid=str(m.id), command_type=m.command.command_type, expires=_expires(m))
        for m in messages
    ]


def message_get_for_box(*, access: BoxAccess, mid: uuid.UUID) -> Message:
    """The visible message ``mid`` of the box, with its command (else ``BoxNotFound``)."""
    if not access.allows(mid):
        raise BoxNotFound
    # A one-time token's message was read, live, when the box was opened.
    preloaded = access.preloaded(mid) if access.live else None
    if preloaded is not None and not preloaded.command.content_ready:
        raise BoxNotFound  # hidden until its content is resolved (§13)
    message = preloaded or (
        Message.objects.filter(
            visible_messages(timezone.now()), pk=mid, mailbox_id=access.mailbox_id
        )
        .select_related("command")
        .first()
    )
    if message is None:
        raise BoxNotFound
    return message


def message_get_for_answer(*, access: BoxAccess, mid: uuid.UUID) -> Message:
    """The message ``mid`` of the box with its command and profile, whatever its state (the
    answer decides what an answered or dead one gets), else ``BoxNotFound``."""
    # Read for every answer: a tuned statement, as box_token_opens.
    message = access.preloaded(mid) or sql.message_with_command(mid=mid, bid=access.mailbox_id)
    if message is None or not access.allows(mid):
        raise BoxNotFound
    return message


def device_command_body(command: Command) -> dict[str, Any]:
    """The command object as a device receives it: the stored body (which keeps the content
    ids) with the provider's resolved content merged in (docs/PROTOCOL.md §13)."""
    endpoint = BY_TYPE[CommandType(command.command_type)]
    body: dict[str, Any] = command.body
    if not content_refs(command.command_type, body, endpoint.body_key):
        return body
    resolved = (
        ContentResolution.objects.filter(command_id=command.pk, state=ContentResolutionState.DONE)
        .values_list("resolved", flat=True)
        .first()
    )
    return merge(body, resolved or [])


def device_message(*, message: Message) -> DeviceMessage:
    """The fetched ``message`` (with its command) as plain values for ``protocol.mailbox``."""
    command = message.command
    assigned = None
    if command.command_type == CommandType.PROV:
        assert command.assigned_box_id is not None
        assigned = Assignment(
            profile_id=str(command.assigned_profile_id), box_id=str(command.assigned_box_id)
        )
    return DeviceMessage(
        mid=str(message.pk),
        bid=str(message.mailbox_id),
        command_id=command.pk,
        command_type=command.command_type,
        expires=_expires(message),
        command=device_command_body(command),
        assigned=assigned,
    )
