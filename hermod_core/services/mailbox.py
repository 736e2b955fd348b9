"""The device side's writes to its box (docs/PROTOCOL.md §6) other than answers
(``services.answers``): a fetched message marked FETCHED, a box token rotated. The reads are
``selectors.mailbox``."""

import uuid

from django.db.models import Q
from django.utils import timezone

from hermod_core.models import Mailbox, MailboxKind, Message, MessageState
from hermod_core.selectors.mailbox import BoxNotFound, box_token_opens
from hermod_core.services.commands import messages_transition
from hermod_core.services.credentials import box_token_generate, presented_token_hash, token_hash


def message_mark_fetched(*, message: Message) -> None:
    """Mark a fetched message FETCHED (its own lifespan no longer applies, only its command's),
    once: a message fetched before costs no statement. ``message.state`` follows."""
    if message.state != MessageState.WAITING:
        return
    messages_transition(where=Q(pk=message.pk), to=MessageState.FETCHED, fetched_at=timezone.now())
    message.state = MessageState.FETCHED


def box_token_rotate(*, bid: uuid.UUID, token: str | None) -> str:
    """A new box token for the permanent box that ``token`` opens; the old one dies at once.

    Only a box token rotates (a one-time token gets ``BoxNotFound``, as any token that does not
    open the box). The swap is a conditional UPDATE on the old digest: of two rotations with the
    same token one wins, the other gets ``BoxNotFound`` (its token is already dead).
    """
    digest = presented_token_hash(token)
    if digest is None or not box_token_opens(bid=bid, token_hash=digest):
        raise BoxNotFound
    new = box_token_generate()
    swapped = Mailbox.objects.filter(
        pk=bid, kind=MailboxKind.PERMANENT, closed_at__isnull=True, token_hash=digest
    ).update(token_hash=token_hash(new))
    if not swapped:
        raise BoxNotFound
    return new
