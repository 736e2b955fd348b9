"""Enrollment invitations: a one-time code (stored keyed-hashed) that lets a user open the
provisioning command an admin issued; revoke, renew, resend and the opened mark.

Commands themselves are created by ``hermod_core.services.commands.command_issue`` (the
API's own path); this module adds what only the portal knows about.
"""

import json
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from hermod_core.crypto.errors import CryptoError
from hermod_core.crypto.jwk import PrivateKey
from hermod_core.lifecycle import State
from hermod_core.models import Client, Command, CommandState, MessageState
from hermod_core.protocol.errors import ProtocolError
from hermod_core.services.audit import Actor, audit_record
from hermod_core.services.commands import (
    CommandError,
    command_cancel_by,
    command_issue,
    command_transition,
)
from hermod_core.services.credentials import keyed_digest, seal, unseal
from hermod_core.services.errors import ServiceError
from portal.models import (
    OPEN_COMMAND_STATES,
    BulkJob,
    EnrollmentInvitation,
)
from portal.provisioning import ProvisionSpec, provision_body

logger = logging.getLogger("hermod.portal")


INVITATION_CODE_BYTES = 24  # 192 random bits, base64url: 32 characters


def problem_text(exc: Exception) -> str:
    """What an invitation or bulk row that could not be made says about why."""
    if isinstance(exc, ProtocolError | CommandError | CryptoError):
        return exc.message
    return str(exc)


def invitation_code_hash(code: str) -> str:
    """The stored, indexed digest of an invitation code (keyed, like API keys)."""
    return keyed_digest("enrollment-invitation", code)


@dataclass(frozen=True)
class IssuedInvitation:
    """An invitation and its code, which exists only here: show it once, then it is gone."""

    invitation: EnrollmentInvitation
    code: str

    @property
    def path(self) -> str:
        return reverse("enroll:page", args=[self.code])


class OpenInvitationError(ServiceError):
    """The user has an open invitation already: a second one would be a silent duplicate."""

    def __init__(self, userid: str, invitations: list[EnrollmentInvitation]) -> None:
        self.userid = userid
        self.invitations = invitations
        ids = ", ".join(str(invitation.pk) for invitation in invitations)
        super().__init__(f"{userid} has an open invitation ({ids}); revoke it first.")


OnOpen = Literal["refuse", "revoke", "keep"]
INVITATION_SPEC = "invitation-spec"


def invitation_lifetime_default() -> timedelta:
    return timedelta(hours=settings.HERMOD_INVITATION_LIFETIME_HOURS)


def _issue(
    actor: Actor,
    client: Client,
    spec: ProvisionSpec,
    template_key: PrivateKey | None = None,
) -> Command:
    body = provision_body(spec, template_key=template_key)
    return command_issue(actor=actor, client=client, endpoint_name="provision", body=body)


def _new_code() -> tuple[str, str]:
    code = secrets.token_urlsafe(INVITATION_CODE_BYTES)
    return code, invitation_code_hash(code)


@transaction.atomic
def invitation_create(
    *,
    actor: Actor,
    client: Client,
    spec: ProvisionSpec,
    bulk_job: BulkJob | None = None,
    template_key: PrivateKey | None = None,
    lifetime: timedelta | None = None,
    on_open: OnOpen = "refuse",
) -> IssuedInvitation:
    """A provisioning command for ``spec.userid`` on behalf of ``client`` and a one-time link.

    The command is created exactly as the API creates it (callbacks go to ``client``); the
    link lives ``lifetime`` (``HERMOD_INVITATION_LIFETIME_HOURS`` by default), whatever the
    request's own lifespan, and only the code's keyed hash is stored. When the user has an open
    invitation in the client's group, ``on_open`` decides: ``refuse`` raises
    ``OpenInvitationError``, ``revoke`` revokes it first, ``keep`` makes a second one.
    Raises ``ProtocolError`` / ``CommandError`` / ``ServiceError`` / ``CryptoError`` for a spec
    the API would refuse; nothing is written then.
    """
    now = timezone.now()
    lifetime = lifetime or invitation_lifetime_default()
    if on_open != "keep":
        open_ones = list(
            EnrollmentInvitation.objects.open(now)
            .filter(group_id=client.group_id, userid=spec.userid)
            .select_for_update(of=("self",))
        )
        if open_ones and on_open == "refuse":
            raise OpenInvitationError(spec.userid, open_ones)
        for invitation in open_ones:
            invitation_revoke(actor=actor, invitation=invitation)
    command = _issue(actor, client, spec, template_key)
    code, code_hash = _new_code()
    invitation = EnrollmentInvitation.objects.create(
        code_hash=code_hash,
        command=command,
        group_id=client.group_id,
        userid=spec.userid,
        created_by=actor.name,
        bulk_job=bulk_job,
        expires_at=now + lifetime,
        lifetime=lifetime,
        spec_sealed=seal(INVITATION_SPEC, json.dumps(spec.to_json())),
    )
    audit_record(
        actor=actor,
        action="invitation.create",
        target_type="invitation",
        target_id=str(invitation.pk),
        group=client.group,
        details={
            "command": command.pk,
            "userid": spec.userid,
            "client": client.client_id,
            "lifetime_hours": round(lifetime.total_seconds() / 3600, 2),
        },
    )
    return IssuedInvitation(invitation=invitation, code=code)


def _locked(invitation: EnrollmentInvitation) -> EnrollmentInvitation:
    return (
        EnrollmentInvitation.objects.select_for_update(of=("self",))
        .select_related("command__client__group", "group")
        .get(pk=invitation.pk)
    )


@transaction.atomic
def invitation_revoke(*, actor: Actor, invitation: EnrollmentInvitation) -> bool:
    """Withdraw an invitation: its link stops working and its request, if still in progress,
    is cancelled (the client gets its CANCELLED callback). False when it was revoked already
    or its enrollment completed (nothing to withdraw)."""
    locked = _locked(invitation)
    if locked.revoked_at is not None or locked.command.state == CommandState.COMPLETED:
        return False
    now = timezone.now()
    EnrollmentInvitation.objects.filter(pk=locked.pk).update(revoked_at=now, revoked_by=actor.name)
    invitation.revoked_at, invitation.revoked_by = now, actor.name
    if locked.command.state == CommandState.IN_PROGRESS:
        command_cancel_by(actor=actor, command=locked.command)
    audit_record(
        actor=actor,
        action="invitation.revoke",
        target_type="invitation",
        target_id=str(locked.pk),
        group=locked.group,
        details={"userid": locked.userid, "command": locked.command_id},
    )
    return True


def _spec_of(invitation: EnrollmentInvitation) -> ProvisionSpec | None:
    text = unseal(INVITATION_SPEC, invitation.spec_sealed)
    if not text:
        return None  # made before invitations kept their spec, or the server secret changed
    try:
        return ProvisionSpec.from_json(json.loads(text))
    except (KeyError, TypeError, ValueError):
        return None


def _request_spent(invitation: EnrollmentInvitation, now: datetime) -> bool:
    """Whether the invitation's current request can no longer be opened unused: expired, or
    past its deadline or its code's lifespan before the sweep noticed, never fetched."""
    command = invitation.command
    if command.state == CommandState.EXPIRED:
        return True
    if command.state != CommandState.IN_PROGRESS:
        return False
    if command.expires_at <= now:
        return True
    # Still usable while its code waits within its lifespan, or once the app has it.
    return not command.messages.filter(
        Q(state=MessageState.WAITING, expires_at__gt=now)
        | Q(state__in=[MessageState.FETCHED, MessageState.ANSWERED])
    ).exists()


class InvitationRenewError(ServiceError):
    """The invitation is open but no new request can be issued for it (its client disabled …)."""


@transaction.atomic
def invitation_renew(*, invitation: EnrollmentInvitation) -> bool:
    """A fresh request for an open invitation whose request was not used in time (its code's
    lifespan or its timeout passed): the link lives on, the QR code does not.

    Asked for by whoever holds the link (the enrollment page's "Show a new code"). The spent
    request is ended as EXPIRED (its client gets that callback) and a new one is issued from
    the invitation's sealed spec, on behalf of the same client and in the invitation creator's
    name. False (nothing changes) when the invitation is not open, its request is still usable,
    or its spec is unreadable; ``InvitationRenewError`` (nothing changes) when the request is
    refused. Two people pressing at once make one request (the row is locked).
    """
    locked = _locked(invitation)
    now = timezone.now()
    if not locked.is_open(now) or not _request_spent(locked, now):
        return False
    spec = _spec_of(locked)
    if spec is None:
        return False
    old = locked.command
    if old.state == CommandState.IN_PROGRESS:
        command_transition(
            command_id=old.pk,
            to=State.EXPIRED,
            failure_code="EXPIRED",
            failure_reason="Not opened within its lifespan; the invitation issued a new request.",
        )
    actor = Actor(name=locked.created_by)
    try:
        with transaction.atomic():
            command = _issue(actor, old.client, spec)
    except (ProtocolError, CommandError, ServiceError, CryptoError) as exc:
        # The person holding the link learns only that it cannot be done; the log says why
        # (a disabled or deleted client, the in-progress limit …).
        logger.warning("invitation %s: no new request: %s", locked.pk, problem_text(exc))
        raise InvitationRenewError(
            "A new code cannot be made now. Ask your administrator for a new link."
        ) from None
    EnrollmentInvitation.objects.filter(pk=locked.pk).update(
        command=command, requests_issued=F("requests_issued") + 1
    )
    invitation.command = command
    audit_record(
        actor=Actor(name="enrollment link"),
        action="invitation.renew",
        target_type="invitation",
        target_id=str(locked.pk),
        group=locked.group,
        details={"userid": locked.userid, "expired_command": old.pk, "command": command.pk},
    )
    return True


@transaction.atomic
def invitation_resend(*, actor: Actor, invitation: EnrollmentInvitation) -> IssuedInvitation:
    """A new link for an open invitation, valid for its lifetime again: the old link stops
    working (its code's hash is replaced). ``ServiceError`` when the invitation was revoked or
    its enrollment ended (completed, failed, cancelled): then create a new one."""
    locked = _locked(invitation)
    if locked.revoked_at is not None:
        raise ServiceError("This invitation was revoked; create a new one.")
    if locked.command.state not in OPEN_COMMAND_STATES:
        raise ServiceError(
            f"This invitation's enrollment has ended ({locked.command.state}); create a new one."
        )
    now = timezone.now()
    code, code_hash = _new_code()
    lifetime = locked.lifetime or invitation_lifetime_default()
    EnrollmentInvitation.objects.filter(pk=locked.pk).update(
        code_hash=code_hash, expires_at=now + lifetime, resent_at=now
    )
    locked.code_hash, locked.expires_at, locked.resent_at = code_hash, now + lifetime, now
    audit_record(
        actor=actor,
        action="invitation.resend",
        target_type="invitation",
        target_id=str(locked.pk),
        group=locked.group,
        details={"userid": locked.userid, "command": locked.command_id},
    )
    return IssuedInvitation(invitation=locked, code=code)


def invitation_mark_opened(*, invitation: EnrollmentInvitation) -> None:
    """Record the first time the link was opened (for the console; opening changes nothing)."""
    if invitation.opened_at is None:
        EnrollmentInvitation.objects.filter(pk=invitation.pk, opened_at__isnull=True).update(
            opened_at=timezone.now()
        )
