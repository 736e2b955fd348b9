"""Reads for the console: staff see every group, so these are not scoped to a client.

Every list here is built with a fixed number of queries (``select_related`` /
``prefetch_related``), whatever the number of rows; the console's tests hold them to it.
"""

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet
from django.db.models.functions import TruncHour, TruncMinute
from django.utils import timezone

from hermod_core.models import (
    AuditEvent,
    CallbackAttempt,
    CallbackDelivery,
    CaSettings,
    Certificate,
    Client,
    Command,
    CommandState,
    CommandType,
    ContentResolution,
    DeliveryState,
    EndUser,
    Group,
    Message,
    Profile,
)
from hermod_core.protocol.commands import BY_TYPE, admin_keys_masked
from hermod_core.protocol.commands import CommandType as ProtocolCommandType
from hermod_core.protocol.content import content_refs
from hermod_core.protocol.results import DestinationView
from hermod_core.selectors.commands import destination_views

STATES = [state.value for state in CommandState]
TYPES = [kind.value for kind in CommandType]


@dataclass(frozen=True)
class Bucket:
    """Commands created in one time slot, counted by their state now."""

    start: datetime
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class DashboardStats:
    by_type_and_state: dict[str, dict[str, int]]
    callbacks_exhausted: int
    callbacks_retrying: int
    per_minute: list[Bucket]
    per_hour: list[Bucket]
    at: datetime

    @cached_property
    def by_state(self) -> dict[str, int]:
        """Commands by state, in ``STATES`` order."""
        return {
            state: sum(row.get(state, 0) for row in self.by_type_and_state.values())
            for state in STATES
        }

    @property
    def by_type(self) -> dict[str, int]:
        return {kind: sum(row.values()) for kind, row in self.by_type_and_state.items()}

    @property
    def in_progress(self) -> int:
        return self.by_state[CommandState.IN_PROGRESS]

    @property
    def type_rows(self) -> list[tuple[str, list[int], int]]:
        """(type, counts in ``STATES`` order, total) for each command type."""
        return [
            (kind, [row.get(state, 0) for state in STATES], sum(row.values()))
            for kind, row in self.by_type_and_state.items()
        ]


def _buckets(
    since: datetime, step: timedelta, count: int, trunc: type[TruncMinute] | type[TruncHour]
) -> list[Bucket]:
    rows = (
        Command.objects.filter(created_at__gte=since)
        .order_by()
        .annotate(slot=trunc("created_at"))
        .values("slot", "state")
        .annotate(n=Count("id"))
    )
    slots = {since + step * i: {state: 0 for state in STATES} for i in range(count)}
    for row in rows:
        slot = row["slot"]
        if slot in slots:
            slots[slot][row["state"]] += row["n"]
    return [Bucket(start=start, counts=counts) for start, counts in slots.items()]


def dashboard_stats(*, now: datetime | None = None) -> DashboardStats:
    """Counts by state and type, callback trouble, and commands per minute (last hour) and per
    hour (last day) by state. Four queries."""
    now = now or timezone.now()
    matrix = {kind: dict.fromkeys(STATES, 0) for kind in TYPES}
    for row in Command.objects.order_by().values("command_type", "state").annotate(n=Count("id")):
        matrix.setdefault(row["command_type"], dict.fromkeys(STATES, 0))[row["state"]] = row["n"]
    trouble = CallbackDelivery.objects.filter(COMMAND_CALLBACKS).aggregate(
        exhausted=Count("id", filter=Q(state=DeliveryState.EXHAUSTED)),
        retrying=Count("id", filter=Q(state=DeliveryState.PENDING, attempts__gt=0)),
    )
    minute = now.replace(second=0, microsecond=0)
    hour = now.replace(minute=0, second=0, microsecond=0)
    return DashboardStats(
        by_type_and_state=matrix,
        callbacks_exhausted=trouble["exhausted"],
        callbacks_retrying=trouble["retrying"],
        per_minute=_buckets(minute - timedelta(minutes=59), timedelta(minutes=1), 60, TruncMinute),
        per_hour=_buckets(hour - timedelta(hours=23), timedelta(hours=1), 24, TruncHour),
        at=now,
    )


# --- commands ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CommandFilters:
    command_type: str = ""
    state: str = ""
    client_id: str = ""
    userid: str = ""
    created_from: datetime | None = None
    created_to: datetime | None = None


def command_list(filters: CommandFilters) -> QuerySet[Command]:
    """Commands, newest first, narrowed by type, state, client, user and creation time.

    A user matches the commands addressed to one of their profiles and the provisioning
    commands issued for them (which have no profile until they complete).
    """
    commands = Command.objects.select_related("client", "group", "profile__user").order_by("-id")
    if filters.command_type:
        commands = commands.filter(command_type=filters.command_type)
    if filters.state:
        commands = commands.filter(state=filters.state)
    if filters.client_id:
        commands = commands.filter(client__client_id=filters.client_id)
    if filters.userid:
        commands = commands.filter(
            Q(profile__user__userid=filters.userid)
            | Q(command_type=CommandType.PROV, body__userid=filters.userid)
        )
    if filters.created_from:
        commands = commands.filter(created_at__gte=filters.created_from)
    if filters.created_to:
        commands = commands.filter(created_at__lt=filters.created_to)
    return commands


def command_get(command_id: int) -> Command | None:
    return (
        Command.objects.select_related("client__group", "group", "profile__user")
        .filter(pk=command_id)
        .first()
    )


@dataclass(frozen=True)
class TimelineEvent:
    at: datetime | None
    title: str
    detail: str = ""
    tone: str = ""  # "", "ok", "bad"


@dataclass(frozen=True)
class CommandTimeline:
    """A command and everything that happened to it, oldest first."""

    command: Command
    messages: list[Message]
    delivery: CallbackDelivery | None
    attempts: list[CallbackAttempt]
    events: list[TimelineEvent] = field(default_factory=list)
    body: Any = None  # the command body as sent, admin keys masked
    # The destinations with their progress, as the result body shows them (without tokens).
    destinations: list[DestinationView] = field(default_factory=list)

    @property
    def settled(self) -> bool:
        """Nothing more will change: the command is final and its callback, if any, is delivered,
        exhausted or skipped (a final command's callback may still be waiting for the CA step or
        being retried, and the live view follows it to its end)."""
        if not self.command.is_final:
            return False
        return self.delivery is None or self.delivery.state not in (
            DeliveryState.WAITING,
            DeliveryState.PENDING,
        )

    @property
    def code_live(self) -> bool:
        """Whether the provisioning's QR code can still be used (in progress, and its temporary
        box neither answered, withdrawn nor expired)."""
        if self.command.command_type != CommandType.PROV or self.command.is_final:
            return False
        return any(d.state in ("WAITING", "FETCHED") for d in self.destinations)


def _content_events(command: Command) -> list[TimelineEvent]:
    """The content provider's part (docs/PROTOCOL.md §13); read only for commands with content
    ids."""
    body_key = BY_TYPE[ProtocolCommandType(command.command_type)].body_key
    if not content_refs(command.command_type, command.body, body_key):
        return []
    job = ContentResolution.objects.filter(command=command).first()
    if job is None:
        return []
    detail = f"{job.attempts} attempt(s)" + (f"; {job.last_error}" if job.last_error else "")
    tone = {"DONE": "ok", "FAILED": "bad"}.get(job.state, "")
    return [TimelineEvent(job.finished_at, f"Content provider: {job.state}", detail, tone)]


def command_timeline(command: Command) -> CommandTimeline:
    """Created, each destination fetched and answered, the verdict, each callback attempt."""
    messages = list(command.messages.select_related("mailbox").order_by("created_at", "id"))
    delivery = CallbackDelivery.objects.filter(command=command).first()
    attempts = list(delivery.attempt_log.order_by("number")) if delivery else []
    events = [
        TimelineEvent(
            command.created_at,
            f"Created by {command.client.client_id}",
            f"{len(messages)} destination(s); expires {command.expires_at:%Y-%m-%d %H:%M:%S} UTC",
        )
    ]
    for message in messages:
        if message.fetched_at:
            events.append(TimelineEvent(message.fetched_at, f"Fetched from box {message.to}"))
        if message.answered_at:
            events.append(TimelineEvent(message.answered_at, f"Answered in box {message.to}"))
    if command.finished_at:
        tone = "ok" if command.state == CommandState.COMPLETED else "bad"
        verdict = command.state
        if command.failure_code:
            verdict = f"{command.state}: {command.failure_code}"
        events.append(TimelineEvent(command.finished_at, verdict, command.failure_reason, tone))
    if command.ca_state:
        events.append(
            TimelineEvent(None, f"Certificate authority: {command.ca_state}", command.ca_error)
        )
    events.extend(_content_events(command))
    for attempt in attempts:
        ok = not attempt.error
        status = f"HTTP {attempt.status_code}" if attempt.status_code else "no answer"
        events.append(
            TimelineEvent(
                attempt.at,
                f"Callback attempt {attempt.number}: {'delivered' if ok else 'failed'}",
                f"{status}; {attempt.duration_ms} ms" + ("" if ok else f"; {attempt.error}"),
                "ok" if ok else "bad",
            )
        )
    events.sort(key=lambda e: (e.at is None, e.at or command.created_at))
    return CommandTimeline(
        command=command,
        messages=messages,
        delivery=delivery,
        attempts=attempts,
        events=events,
        body=admin_keys_masked(command.body),
        destinations=destination_views(command, messages=messages, with_uri=False),
    )


# --- groups and clients -----------------------------------------------------------------------


def group_list() -> QuerySet[Group]:
    return Group.objects.annotate(
        client_count=Count("clients", distinct=True),
        key_count=Count("trusted_keys", distinct=True),
    ).order_by("name")


def group_get(name: str) -> Group | None:
    return Group.objects.filter(name=name).first()


def group_detail(group: Group) -> dict[str, Any]:
    """The group's clients, trusted attestation keys and CA settings (or None)."""
    return {
        "clients": list(group.clients.order_by("client_id")),
        "trusted_keys": list(group.trusted_keys.order_by("created_at")),
        "signer_cas": list(group.trusted_signer_cas.order_by("created_at")),
        "ca": CaSettings.objects.filter(group=group).first(),
    }


def clients_enabled(*, group: Group | None = None) -> QuerySet[Client]:
    """Clients a command may be issued for (in ``group``, when given)."""
    clients = Client.objects.select_related("group").filter(enabled=True).order_by("client_id")
    return clients.filter(group=group) if group is not None else clients


# --- users and profiles -----------------------------------------------------------------------


def user_search(query: str, *, limit: int = 100) -> list[EndUser]:
    """Users whose id contains ``query`` (case-insensitive), with their profile counts."""
    users = EndUser.objects.select_related("group").annotate(
        profile_count=Count("profiles", filter=Q(profiles__state="ACTIVE"))
    )
    if query:
        users = users.filter(userid__icontains=query)
    return list(users.order_by("userid", "group__name")[:limit])


def user_get(group_name: str, userid: str) -> EndUser | None:
    return (
        EndUser.objects.select_related("group")
        .prefetch_related(Prefetch("profiles", queryset=Profile.objects.order_by("-created_at")))
        .filter(group__name=group_name, userid=userid)
        .first()
    )


def profile_get(profile_id: Any) -> Profile | None:
    return (
        Profile.objects.select_related("group", "user", "mailbox")
        .prefetch_related(
            "keys",
            Prefetch("certificates", queryset=Certificate.objects.select_related("key")),
        )
        .filter(pk=profile_id)
        .first()
    )


_ROW_CHARS = 1024


def _row_text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= _ROW_CHARS else text[:_ROW_CHARS] + "…"


def profile_device_rows(profile: Profile) -> list[tuple[str, str]]:
    """The profile's device information as (label, text) rows.

    Built here, not in the template: the stored JSON came from a device (or from an older version
    that accepted any shape), and a template lookup such as ``device_info.items`` on a device that
    reported a member named ``items`` would fail the page. Any shape gives rows of bounded text.
    """
    info = profile.device_info
    if isinstance(info, dict):
        return [(_row_text(name), _row_text(value)) for name, value in info.items()]
    if info in (None, "", []):
        return []
    return [("device info", _row_text(info))]


def profile_extension_rows(profile: Profile) -> list[tuple[str, str]]:
    """The desktop extensions the profile was provisioned with, as (key, data) rows."""
    extensions = profile.desktop_extensions
    rows = []
    for extension in extensions if isinstance(extensions, list) else []:
        if isinstance(extension, dict):
            rows.append((_row_text(extension.get("key", "")), _row_text(extension.get("data", ""))))
        else:
            rows.append(("desktop extension", _row_text(extension)))
    return rows


def profile_commands(profile: Profile, *, limit: int = 50) -> list[Command]:
    """The latest commands addressed to the profile, and the one that provisioned it."""
    return list(
        Command.objects.select_related("client")
        .filter(
            Q(profile=profile) | Q(messages__profile=profile) | Q(pk=profile.created_by_command_id)
        )
        .distinct()
        .order_by("-id")[:limit]
    )


# --- callbacks and audit ----------------------------------------------------------------------


# Deliveries of commands: a console "test callback" (no command) reports its outcome on the
# client's page at once, and a test against an unreachable receiver is not a failed callback.
COMMAND_CALLBACKS = Q(command__isnull=False)


def callback_problems() -> QuerySet[CallbackDelivery]:
    """Deliveries that exhausted their attempts, and those failing and still being retried."""
    return (
        CallbackDelivery.objects.select_related("client__group", "command")
        .filter(COMMAND_CALLBACKS)
        .filter(Q(state=DeliveryState.EXHAUSTED) | Q(state=DeliveryState.PENDING, attempts__gt=0))
        .order_by("-updated_at", "-id")
    )


def callbacks_exhausted_count() -> int:
    return CallbackDelivery.objects.filter(COMMAND_CALLBACKS, state=DeliveryState.EXHAUSTED).count()


def callback_get(delivery_id: int) -> CallbackDelivery | None:
    return CallbackDelivery.objects.select_related("client__group").filter(pk=delivery_id).first()


@dataclass(frozen=True)
class AuditFilters:
    actor: str = ""
    action: str = ""
    target: str = ""
    group: str = ""
    since: datetime | None = None
    until: datetime | None = None


def audit_list(filters: AuditFilters) -> QuerySet[AuditEvent]:
    events = AuditEvent.objects.select_related("group").order_by("-at", "-id")
    if filters.actor:
        events = events.filter(actor__icontains=filters.actor)
    if filters.action:
        events = events.filter(action__startswith=filters.action)
    if filters.target:
        events = events.filter(
            Q(target_id__icontains=filters.target) | Q(target_type=filters.target)
        )
    if filters.group:
        events = events.filter(group__name=filters.group)
    if filters.since:
        events = events.filter(at__gte=filters.since)
    if filters.until:
        events = events.filter(at__lt=filters.until)
    return events
