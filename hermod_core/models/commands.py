"""Commands created by clients through the command API (docs/PROTOCOL.md §4–§8)."""

from django.db import models

from hermod_core.lifecycle import CaStep
from hermod_core.lifecycle import State as CommandState
from hermod_core.models.choices import choices_of
from hermod_core.models.clients import Client, Group
from hermod_core.models.profiles import Profile
from hermod_core.protocol.commands import CommandType

# One spelling per state: the columns' choices are the pure enums' members (``commandType`` as on
# the wire, docs/PROTOCOL.md §4; command states of §7, all but IN_PROGRESS final).


class CommandQuerySet(models.QuerySet["Command"]):
    def in_progress(self) -> "CommandQuerySet":
        return self.filter(state=CommandState.IN_PROGRESS)


class Command(models.Model):
    """What a client asked for: a numeric ``commandId`` (the primary key), a type and a state.

    ``body`` is the command object exactly as the client sent it (unknown fields kept) and
    ``answer`` the device's answer object exactly as received. Only the ``command_transition``
    service changes ``state``, with a conditional UPDATE, so a final state never changes again.
    """

    # No index of their own: command_by_client_state and command_by_group_time lead with them
    # (one index fewer to write on every create and every change of state).
    client = models.ForeignKey(
        Client, on_delete=models.PROTECT, related_name="commands", db_index=False
    )
    group = models.ForeignKey(
        Group, on_delete=models.PROTECT, related_name="commands", db_index=False
    )
    command_type = models.CharField(max_length=6, choices=choices_of(CommandType))
    state = models.CharField(
        max_length=12, choices=choices_of(CommandState), default=CommandState.IN_PROGRESS
    )
    external_id = models.CharField(max_length=255, blank=True)
    lifespan = models.PositiveIntegerField()
    timeout = models.PositiveIntegerField()
    expires_at = models.DateTimeField()
    header = models.JSONField(default=dict)
    body = models.JSONField(default=dict)
    answer = models.JSONField(null=True, blank=True)
    profile = models.ForeignKey(
        Profile, null=True, blank=True, on_delete=models.SET_NULL, related_name="commands"
    )
    # Provisioning: the profile id and permanent box the server proposes (docs/PROTOCOL.md §6).
    assigned_profile_id = models.UUIDField(null=True, blank=True)
    assigned_box_id = models.UUIDField(null=True, blank=True)
    # Auth/sign: what the server established about the accepted signature (``verification``,
    # and for a profile-less ``@tmp`` command the ``signer`` and the matched ``profile``).
    signature = models.JSONField(null=True, blank=True)
    failure_code = models.CharField(max_length=64, blank=True)
    failure_reason = models.TextField(blank=True)
    # Certificate authority follow-up of a completed provisioning (docs/PROTOCOL.md §10).
    ca_state = models.CharField(max_length=12, blank=True)
    ca_error = models.TextField(blank=True)
    ca_next_attempt_at = models.DateTimeField(null=True, blank=True)
    # False while the content provider still has to resolve the command's content ids
    # (docs/PROTOCOL.md §13): its messages are hidden from devices until then.
    content_ready = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = CommandQuerySet.as_manager()

    class Meta:
        db_table = "hermod_command"
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["client", "state"], name="command_by_client_state"),
            models.Index(fields=["state", "expires_at"], name="command_due_expiry"),
            models.Index(fields=["group", "created_at"], name="command_by_group_time"),
            models.Index(fields=["created_at"], name="command_by_time"),
            # The sweep looks for stalled CA steps on every run: only the few pending ones.
            models.Index(
                fields=["ca_next_attempt_at"],
                condition=models.Q(ca_state=CaStep.PENDING),
                name="command_ca_pending",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(lifespan__gte=1, lifespan__lte=86400)
                & models.Q(timeout__gte=models.F("lifespan"), timeout__lte=86400),
                name="command_lifespan_within_timeout",
            ),
            models.CheckConstraint(
                condition=models.Q(state="IN_PROGRESS") | models.Q(finished_at__isnull=False),
                name="command_final_has_finish_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.command_type} {self.pk}"

    @property
    def is_final(self) -> bool:
        return self.state != CommandState.IN_PROGRESS


class InProgressTally(models.Model):
    """How many of a client's commands are in progress, kept in a few slots per client.

    The in-progress cap reads the sum of a client's slots instead of counting its command rows,
    which cost a scan of the whole backlog (up to HERMOD_MAX_IN_PROGRESS index entries and heap
    rows) on every create. ``command_create`` adds 1 and ``commands_transition`` takes 1 away
    per command it ends, each in its own transaction, on a slot picked at random: concurrent
    creates and answers of one client rarely wait for the same row lock. A slot may go below
    zero; only the sum means something.
    """

    SLOTS = 8

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+")
    slot = models.SmallIntegerField()
    count = models.IntegerField(default=0)

    class Meta:
        db_table = "hermod_in_progress_tally"
        constraints = [
            models.UniqueConstraint(fields=["client", "slot"], name="in_progress_tally_slot"),
        ]

    def __str__(self) -> str:
        return f"client {self.client_id} slot {self.slot}: {self.count}"


class ContentResolutionState(models.TextChoices):
    PENDING = "PENDING"  # due at next_attempt_at
    DONE = "DONE"  # every content id resolved: the messages are visible
    FAILED = "FAILED"  # the provider failed after its attempts: the command ended FAILED
    ABANDONED = "ABANDONED"  # the command ended otherwise (expired, cancelled) first


class ContentResolution(models.Model):
    """The content-provider job of one command (docs/PROTOCOL.md §13), the ledger of its outbox.

    Written in the same transaction as its command (PENDING) and handed to the workers after
    commit. ``resolved`` holds what the provider answered, one entry per content id placeholder
    (``{"path": [...], "content": {...}}``); the command's ``body`` keeps the ids, and a device
    fetching the message gets the body with these merged in (``protocol.content.merge``).
    """

    command = models.OneToOneField(Command, on_delete=models.CASCADE, related_name="content")
    state = models.CharField(
        max_length=10,
        choices=ContentResolutionState.choices,
        default=ContentResolutionState.PENDING,
    )
    resolved = models.JSONField(default=list)
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField()
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "hermod_content_resolution"
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(state="PENDING"),
                name="content_resolution_due",
            ),
        ]

    def __str__(self) -> str:
        return f"content of command {self.command_id} ({self.state})"
