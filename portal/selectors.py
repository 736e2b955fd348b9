"""Reads of portal concepts: invitations, the live status of an enrollment, bulk jobs, the
sign-in throttle."""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.db.models import Q, QuerySet, prefetch_related_objects
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from hermod_core.models import Command, CommandState, CommandType, MessageState
from hermod_core.protocol.results import app_link
from hermod_core.proxies import budget_address
from hermod_core.selectors.commands import destination_views
from portal.models import BulkJob, BulkJobRow, EnrollmentInvitation, LoginThrottle
from portal.provisioning import congrats_message, form_initial
from portal.services.invitations import invitation_code_hash
from portal.services.login import (
    LOGIN_FORGET,
    LOGIN_FREE_FAILURES,
)

_CODE = re.compile(r"[A-Za-z0-9_-]{16,64}")


def invitation_get_by_code(code: str) -> EnrollmentInvitation | None:
    """The invitation a code opens, or None — for a malformed code without touching the
    database. The lookup is by keyed hash, so timing says nothing about stored codes."""
    if not _CODE.fullmatch(code):
        return None
    return (
        EnrollmentInvitation.objects.select_related("command", "group")
        .filter(code_hash=invitation_code_hash(code))
        .first()
    )


def invitation_list(*, limit: int = 200) -> list[EnrollmentInvitation]:
    return list(
        EnrollmentInvitation.objects.select_related("command__client", "group").order_by("-id")[
            :limit
        ]
    )


def invitation_get(invitation_id: int) -> EnrollmentInvitation | None:
    return (
        EnrollmentInvitation.objects.select_related("command__client", "group")
        .filter(pk=invitation_id)
        .first()
    )


def provision_initial(command_id: str | None) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The provisioning form's initial values from an earlier provisioning command (``?from=``
    on the form), for "Issue a new request"; empty for anything else."""
    if not command_id or not command_id.isdigit():
        return {}, []
    command = (
        Command.objects.select_related("client")
        .filter(pk=int(command_id), command_type=CommandType.PROV)
        .first()
    )
    if command is None:
        return {}, []
    initial, keys = form_initial(
        command.body,
        lifespan=command.lifespan,
        timeout=command.timeout,
        external_id=command.external_id,
    )
    if command.client.enabled:
        initial["client"] = command.client_id
    return initial, keys


class Phase(StrEnum):
    """Where an enrollment stands, as the person enrolling sees it."""

    WAITING = "WAITING"  # the QR code is waiting to be scanned
    FETCHED = "FETCHED"  # the app opened it; the QR code is hidden
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    EXPIRED = "EXPIRED"
    CANCELLED = "CANCELLED"


_FINAL_PHASES = {
    CommandState.COMPLETED: Phase.COMPLETED,
    CommandState.FAILED: Phase.FAILED,
    CommandState.EXPIRED: Phase.EXPIRED,
    CommandState.CANCELLED: Phase.CANCELLED,
}


@dataclass(frozen=True)
class EnrollmentStatus:
    """A provisioning command as its enrollment page shows it."""

    command: Command
    phase: Phase
    uri: str  # the plug-out URI, only while the device may still open it
    expires_at: datetime
    congrats: str
    failure: str
    fetched_at: datetime | None = None  # when the app opened the link (the result's fetchedAt)
    # The same-device link for a user on the phone itself (docs/PROTOCOL.md: result bodies'
    # appLink), titled and returning to ``redirect``; only while the plug-out URI is shown.
    app_link: str = ""

    @property
    def is_final(self) -> bool:
        return self.phase in {Phase.COMPLETED, Phase.FAILED, Phase.EXPIRED, Phase.CANCELLED}

    @property
    def shows_code(self) -> bool:
        return self.phase is Phase.WAITING


def enrollment_status(
    command: Command, *, now: datetime | None = None, redirect: str = ""
) -> EnrollmentStatus:
    """The phase of a provisioning command's (single, ``@tmp``) destination, read from the
    destination's progress in its result body (``state``, ``fetchedAt``: what a client's page
    polls too), its plug-out URI and same-device app link (the link titled with the profile's
    server name and returning to ``redirect``) and the closing message."""
    now = now or timezone.now()
    phase = _FINAL_PHASES.get(CommandState(command.state))
    destination: dict[str, Any] | None = None
    if phase is None:
        # One read of the messages for the result body and the lifespan checks below.
        prefetch_related_objects([command], "messages")
        destinations = [d.as_json() for d in destination_views(command)]
        destination = destinations[0] if destinations else None
        state = destination["state"] if destination else None
        if command.expires_at <= now or destination is None:
            phase = Phase.EXPIRED
        elif state == MessageState.FETCHED:
            phase = Phase.FETCHED
        elif state == MessageState.WAITING and command.messages.all()[0].expires_at > now:
            phase = Phase.WAITING
        else:
            phase = Phase.EXPIRED
    uri = link = ""
    if phase in {Phase.WAITING, Phase.FETCHED} and destination is not None:
        uri = destination["uri"]
        token = parse_qs(urlsplit(uri).query)["token"][0]
        profile = command.body.get("profile") or {}
        link = app_link(
            settings.HERMOD_APP_LINK_SCHEME,
            destination["location"],
            token,
            title=str(profile.get("servername") or profile.get("name") or ""),
            redirect=redirect,
        )
    expires_at = command.expires_at
    if phase is Phase.WAITING:
        expires_at = min(expires_at, command.messages.all()[0].expires_at)
    fetched_at = destination.get("fetchedAt") if destination else None
    return EnrollmentStatus(
        command=command,
        phase=phase,
        uri=uri,
        expires_at=expires_at,
        congrats=congrats_message(command.body) if phase is Phase.COMPLETED else "",
        failure=command.failure_reason if phase is Phase.FAILED else "",
        fetched_at=parse_datetime(fetched_at) if fetched_at else None,
        app_link=link,
    )


class LinkState(StrEnum):
    """What an invitation's link itself allows, beside its current request's phase."""

    USABLE = "USABLE"  # the request's phase says what to do
    RENEWABLE = "RENEWABLE"  # the request was not used in time; the link may ask for a new one
    REVOKED = "REVOKED"
    EXPIRED = "EXPIRED"  # the link's own lifetime has passed


def invitation_link_state(
    invitation: EnrollmentInvitation, status: EnrollmentStatus, *, now: datetime | None = None
) -> LinkState:
    """Whether an invitation's link still works, and whether its spent request may be renewed
    (``portal.services.invitations.invitation_renew`` decides the same way)."""
    now = now or timezone.now()
    if status.phase is Phase.COMPLETED:
        return LinkState.USABLE
    if invitation.revoked_at is not None:
        return LinkState.REVOKED
    if invitation.expires_at <= now:
        return LinkState.EXPIRED
    if status.phase is Phase.EXPIRED and invitation.spec_sealed:
        return LinkState.RENEWABLE
    return LinkState.USABLE


def bulk_job_list(*, limit: int = 50) -> QuerySet[BulkJob]:
    return BulkJob.objects.select_related("client").order_by("-id")[:limit]


def bulk_job_get(job_id: int) -> BulkJob | None:
    return BulkJob.objects.select_related("client__group").filter(pk=job_id).first()


@dataclass(frozen=True)
class BulkRowView:
    number: int
    userid: str
    command_id: int | None
    error: str


def bulk_job_rows(job: BulkJob, *, limit: int = 500) -> list[BulkRowView]:
    """The first result rows of a job (links only in the audited result file)."""
    return [
        BulkRowView(
            number=row.number, userid=row.userid, command_id=row.command_id, error=row.error
        )
        for row in BulkJobRow.objects.filter(job=job).order_by("number")[:limit]
    ]


# --- sign-in throttle -------------------------------------------------------------------------


@dataclass(frozen=True)
class LoginRefusal:
    """Why and for how long a sign-in attempt is refused without looking at its password."""

    wait: timedelta
    scope: Literal["account", "address"]  # this name from this address, or every name from it


def login_refusal(*, username: str, ip: str) -> LoginRefusal | None:
    """Whether a sign-in as ``username`` from ``ip`` must wait, without counting anything.

    Only this name from this address, and this address as a whole, are consulted: failures for
    the same account from another address never slow it here, so nobody can lock a named
    account from elsewhere.
    """
    now = timezone.now()
    name = LoginThrottle.name_of(username)
    rows = LoginThrottle.objects.filter(
        ip=budget_address(ip), username__in=[name, ""] if name else [""], blocked_until__gt=now
    ).only("username", "blocked_until")
    waits = [(row.blocked_until - now, row.username) for row in rows if row.blocked_until]
    if not waits:
        return None
    wait, username_of_row = max(waits)
    return LoginRefusal(wait=wait, scope="account" if username_of_row else "address")


def login_throttles_list(*, limit: int = 500) -> list[LoginThrottle]:
    """What an admin sees as throttled: addresses blocked now, and account names that reached
    the delays from some address (within the time their failures are remembered)."""
    now = timezone.now()
    return list(
        LoginThrottle.objects.filter(
            Q(blocked_until__gt=now)
            | Q(failures__gte=LOGIN_FREE_FAILURES, last_failed_at__gt=now - LOGIN_FORGET)
            & ~Q(username="")
        ).order_by("-last_failed_at")[:limit]
    )
