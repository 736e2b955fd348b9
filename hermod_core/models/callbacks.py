"""The callback outbox (docs/PROTOCOL.md §8): one delivery row per command, written with it."""

import uuid

from django.db import models

from hermod_core.models.clients import Client
from hermod_core.models.commands import Command
from hermod_core.models.outbox import OutboxRow


class DeliveryState(models.TextChoices):
    WAITING = "WAITING"  # the command is still in progress: nothing to send yet
    PENDING = "PENDING"  # due at next_attempt_at
    DELIVERED = "DELIVERED"
    EXHAUSTED = "EXHAUSTED"  # every attempt failed; kept for the console, can be resent
    SKIPPED = "SKIPPED"  # the client has no callback URL (it polls)


class CallbackDelivery(OutboxRow):
    """A callback to send, the ledger of the outbox.

    Created in the same transaction as its command (state WAITING) and made PENDING, with its
    ``body`` frozen, by the transaction that makes the command final, so a callback can neither be
    lost nor sent before its command is final. ``event_id`` goes out as ``X-Hermod-Event-Id`` and
    never changes across retries. A row without a command is a console "test callback".
    """

    event_id = models.UUIDField(default=uuid.uuid4, unique=True)
    command = models.OneToOneField(
        Command, null=True, blank=True, on_delete=models.CASCADE, related_name="callback"
    )
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="callbacks")
    path = models.CharField(max_length=40)
    state = models.CharField(
        max_length=10, choices=DeliveryState.choices, default=DeliveryState.WAITING
    )
    body = models.JSONField(null=True, blank=True)

    class Meta:
        db_table = "hermod_callback_delivery"
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="callback_due"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(state="WAITING") | models.Q(body__isnull=False),
                name="callback_due_has_body",
            ),
        ]

    def __str__(self) -> str:
        return f"callback {self.event_id} ({self.state})"


class CallbackAttempt(models.Model):
    """One try at delivering a callback: what the receiver answered, or why it could not."""

    delivery = models.ForeignKey(
        CallbackDelivery, on_delete=models.CASCADE, related_name="attempt_log"
    )
    number = models.PositiveIntegerField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "hermod_callback_attempt"
        ordering = ["delivery", "number"]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}"
