"""Mailboxes of devices and the messages (command destinations) waiting in them."""

import uuid

from django.db import models

from hermod_core.lifecycle import DestinationState as MessageState
from hermod_core.models.choices import choices_of
from hermod_core.models.clients import Group
from hermod_core.models.profiles import Profile


class MailboxKind(models.TextChoices):
    TEMPORARY = "TEMPORARY"
    PERMANENT = "PERMANENT"


class Mailbox(models.Model):
    """A queue of messages for one device (docs/PROTOCOL.md §1), id ``bid``.

    A temporary box exists for one ``@tmp`` destination and is removed once used or expired; a
    permanent box belongs to one profile. ``token_hash`` is the keyed hash of the random box token
    that only the device whose provisioning answer was accepted received (§6); an empty hash
    (revoked by an admin) and a closed box open for nobody.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    group = models.ForeignKey(Group, on_delete=models.PROTECT, related_name="mailboxes")
    kind = models.CharField(max_length=10, choices=MailboxKind.choices)
    profile = models.OneToOneField(
        Profile, null=True, blank=True, on_delete=models.CASCADE, related_name="mailbox"
    )
    token_hash = models.CharField(max_length=64, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "hermod_mailbox"
        indexes = [
            models.Index(fields=["kind", "expires_at"], name="mailbox_due_cleanup"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(kind="PERMANENT") | models.Q(expires_at__isnull=True),
                name="mailbox_permanent_never_expires",
            ),
        ]

    def __str__(self) -> str:
        return str(self.id)


class Message(models.Model):
    """One command as delivered into one box: a destination of the command, id ``mid``.

    ``token_hash`` is the keyed hash of the destination's random one-time token; the token opens
    the box only while the message is WAITING or FETCHED and its command is in progress (§6).
    ``token_sealed`` is the same token encrypted (``services.credentials.seal``) so that poll and
    callback bodies can show the plug-out URI again; it cannot be computed from ids.
    ``expires_at`` is the end of the lifespan: an unfetched message is withdrawn then.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    command = models.ForeignKey(
        "hermod_core.Command", on_delete=models.CASCADE, related_name="messages"
    )
    # No index of its own: message_by_box leads with it.
    mailbox = models.ForeignKey(
        Mailbox, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    profile = models.ForeignKey(
        Profile, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    to = models.CharField(max_length=300)
    state = models.CharField(
        max_length=10, choices=choices_of(MessageState), default=MessageState.WAITING
    )
    token_hash = models.CharField(max_length=64)  # unique: message_token_hash_unique
    token_sealed = models.TextField(blank=True)
    expires_at = models.DateTimeField()
    fetched_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "hermod_message"
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["mailbox", "state", "created_at"], name="message_by_box"),
            models.Index(fields=["state", "expires_at"], name="message_due_withdrawal"),
        ]
        # A constraint, not unique=True: on PostgreSQL a unique field also gets a second index
        # for LIKE (varchar_pattern_ops), which no query uses and every create would write.
        constraints = [
            models.UniqueConstraint(fields=["token_hash"], name="message_token_hash_unique"),
        ]

    def __str__(self) -> str:
        return str(self.id)
