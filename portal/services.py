"""Portal-only services: enrollment invitations, bulk provisioning jobs and the sign-in throttle.

Commands themselves are created by ``hermod_core.services.console.console_command_issue`` (the
API's own path); this module adds what only the portal knows about.
"""

import base64
import csv
import hashlib
import io
import json
import logging
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from hermod_core.crypto.errors import CryptoError
from hermod_core.crypto.jwk import PrivateKey
from hermod_core.lifecycle import State
from hermod_core.models import Client, Command, CommandState, MessageState
from hermod_core.protocol.errors import ProtocolError
from hermod_core.proxies import budget_address
from hermod_core.services.audit import audit_record
from hermod_core.services.commands import CommandError, command_transition
from hermod_core.services.console import (
    ConsoleActor,
    ConsoleError,
    console_audit,
    console_command_cancel,
    console_command_issue,
)
from hermod_core.services.credentials import keyed_digest, seal, unseal
from hermod_core.services.dispatch import enqueue_after_commit
from portal.models import (
    OPEN_COMMAND_STATES,
    BulkJob,
    BulkJobRow,
    BulkJobState,
    EnrollmentInvitation,
    LoginThrottle,
)
from portal.provisioning import SUBJECT_FIELDS, ProvisionSpec, provision_body

logger = logging.getLogger("hermod.portal")

BULK_TASK = "hermod.portal.bulk_provision"
INVITATION_CODE_BYTES = 24  # 192 random bits, base64url: 32 characters
MAX_BULK_ROWS = 5000
MAX_BULK_BYTES = 1024 * 1024
# A user id and a few subject attributes: a longer line is not a bulk upload.
MAX_BULK_LINE_CHARS = 2048
# A job that made no progress for this long was probably lost with its task; it may be re-run.
BULK_STALLED_AFTER = timedelta(minutes=2)

# Sign-in throttle: growing delays per (account name, address), a coarse budget per address.
LOGIN_FREE_FAILURES = 5  # consecutive failures of a name from an address before delays start
LOGIN_MAX_DELAY = timedelta(minutes=15)
LOGIN_FORGET = timedelta(hours=24)  # a pair's failures are forgotten this long after the last
LOGIN_MAX_FAILURES_PER_IP = 50  # per address within LOGIN_WINDOW, whatever the names tried
LOGIN_WINDOW = timedelta(minutes=15)
LOGIN_IP_BLOCK = timedelta(minutes=15)


# --- enrollment invitations -------------------------------------------------------------------


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


class OpenInvitationError(ConsoleError):
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
    actor: ConsoleActor,
    client: Client,
    spec: ProvisionSpec,
    template_key: PrivateKey | None = None,
) -> Command:
    body = provision_body(spec, template_key=template_key)
    return console_command_issue(actor=actor, client=client, endpoint_name="provision", body=body)


def _new_code() -> tuple[str, str]:
    code = secrets.token_urlsafe(INVITATION_CODE_BYTES)
    return code, invitation_code_hash(code)


@transaction.atomic
def invitation_create(
    *,
    actor: ConsoleActor,
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
    Raises ``ProtocolError`` / ``CommandError`` / ``ConsoleError`` / ``CryptoError`` for a spec
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
    console_audit(
        actor,
        "invitation.create",
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
def invitation_revoke(*, actor: ConsoleActor, invitation: EnrollmentInvitation) -> bool:
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
        console_command_cancel(actor=actor, command=locked.command)
    console_audit(
        actor,
        "invitation.revoke",
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


class InvitationRenewError(ConsoleError):
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
    actor = ConsoleActor(name=locked.created_by)
    try:
        with transaction.atomic():
            command = _issue(actor, old.client, spec)
    except (ProtocolError, CommandError, ConsoleError, CryptoError) as exc:
        # The person holding the link learns only that it cannot be done; the log says why
        # (a disabled or deleted client, the in-progress limit …).
        logger.warning("invitation %s: no new request: %s", locked.pk, _row_error(exc))
        raise InvitationRenewError(
            "A new code cannot be made now. Ask your administrator for a new link."
        ) from None
    EnrollmentInvitation.objects.filter(pk=locked.pk).update(
        command=command, requests_issued=F("requests_issued") + 1
    )
    invitation.command = command
    console_audit(
        ConsoleActor(name="enrollment link"),
        "invitation.renew",
        target_type="invitation",
        target_id=str(locked.pk),
        group=locked.group,
        details={"userid": locked.userid, "expired_command": old.pk, "command": command.pk},
    )
    return True


@transaction.atomic
def invitation_resend(*, actor: ConsoleActor, invitation: EnrollmentInvitation) -> IssuedInvitation:
    """A new link for an open invitation, valid for its lifetime again: the old link stops
    working (its code's hash is replaced). ``ConsoleError`` when the invitation was revoked or
    its enrollment ended (completed, failed, cancelled): then create a new one."""
    locked = _locked(invitation)
    if locked.revoked_at is not None:
        raise ConsoleError("This invitation was revoked; create a new one.")
    if locked.command.state not in OPEN_COMMAND_STATES:
        raise ConsoleError(
            f"This invitation's enrollment has ended ({locked.command.state}); create a new one."
        )
    now = timezone.now()
    code, code_hash = _new_code()
    lifetime = locked.lifetime or invitation_lifetime_default()
    EnrollmentInvitation.objects.filter(pk=locked.pk).update(
        code_hash=code_hash, expires_at=now + lifetime, resent_at=now
    )
    locked.code_hash, locked.expires_at, locked.resent_at = code_hash, now + lifetime, now
    console_audit(
        actor,
        "invitation.resend",
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


# --- bulk provisioning ------------------------------------------------------------------------


class BulkUploadError(ValueError):
    """An upload that cannot become a job; the message says which line is wrong."""


_COLUMNS = {name.lower(): name for name in SUBJECT_FIELDS}


# Spreadsheets in many locales save "CSV" with semicolons (or tabs): the header line says which.
_DELIMITERS = (",", ";", "\t")


_DELIMITER_NAMES = {",": "commas", ";": "semicolons", "\t": "tabs"}


def _delimiter(text: str) -> str:
    """The separator of a bulk upload: whichever of comma, semicolon and tab its header line
    holds most of (a comma when it holds none: a file with one column)."""
    header = text.lstrip().split("\n", 1)[0]
    counts = {delimiter: header.count(delimiter) for delimiter in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


def bulk_csv_parse(data: bytes) -> list[dict[str, str]]:
    """The rows of a bulk upload: a header with ``userid`` and optionally subject attributes
    (``CN``, ``emailAddress`` …, any case) that override the template for that user; values
    separated by commas, semicolons or tabs, as the header line shows."""
    if len(data) > MAX_BULK_BYTES:
        raise BulkUploadError(f"The file is larger than {MAX_BULK_BYTES // 1024} KiB.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BulkUploadError("The file is not UTF-8 text.") from None
    for number, physical in enumerate(text.splitlines(), start=1):
        if len(physical) > MAX_BULK_LINE_CHARS:
            raise BulkUploadError(f"Line {number} is longer than {MAX_BULK_LINE_CHARS} characters.")
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(text))
    try:
        header = [cell.strip() for cell in next(reader)]
    except StopIteration:
        raise BulkUploadError("The file is empty.") from None
    except csv.Error as exc:
        raise BulkUploadError(f"Line 1: {exc}.") from None
    lowered = [cell.lower() for cell in header]
    if "userid" not in lowered:
        raise BulkUploadError("The first line must name the columns and include userid.")
    unknown = [cell for cell in header if cell.lower() not in _COLUMNS and cell.lower() != "userid"]
    if unknown:
        raise BulkUploadError(f"Unknown column(s): {', '.join(unknown)}.")
    columns = ["userid" if cell == "userid" else _COLUMNS[cell] for cell in lowered]
    rows: list[dict[str, str]] = []
    seen: set[str] = set()
    try:
        for line, cells in enumerate(reader, start=2):
            if not any(cell.strip() for cell in cells):
                continue
            if sum(len(cell) for cell in cells) > MAX_BULK_LINE_CHARS:
                # A quoted value may span lines: the record as a whole is bounded too.
                raise BulkUploadError(
                    f"Line {line}: the record is longer than {MAX_BULK_LINE_CHARS} characters."
                )
            if len(cells) != len(columns):
                raise BulkUploadError(
                    f"Line {line}: expected {len(columns)} values separated by "
                    f"{_DELIMITER_NAMES[reader.dialect.delimiter]} as on the first line, "
                    f"found {len(cells)}."
                )
            row = {name: cell.strip() for name, cell in zip(columns, cells, strict=True)}
            userid = row["userid"]
            if not userid or len(userid) > 255:
                raise BulkUploadError(f"Line {line}: userid is missing or too long.")
            if userid in seen:
                raise BulkUploadError(f"Line {line}: userid {userid} appears twice.")
            seen.add(userid)
            rows.append(row)
            if len(rows) > MAX_BULK_ROWS:
                raise BulkUploadError(f"At most {MAX_BULK_ROWS} users per upload.")
    except csv.Error as exc:
        raise BulkUploadError(f"Line {reader.line_num}: {exc}.") from None
    if not rows:
        raise BulkUploadError("The file lists no users.")
    return rows


@transaction.atomic
def bulk_job_create(
    *,
    actor: ConsoleActor,
    client: Client,
    spec: ProvisionSpec,
    rows: list[dict[str, str]],
    filename: str,
    link_base: str,
    invitation_lifetime: timedelta | None = None,
) -> BulkJob:
    """Write the job (the ledger row) and hand it to a worker once the transaction commits.

    Each row becomes an invitation valid ``invitation_lifetime`` (None: the server's default);
    a user who has an open invitation already gets none (the row says so: revoke it first)."""
    if not client.enabled:
        raise ConsoleError(f"Client {client.client_id} is disabled.")
    job = BulkJob.objects.create(
        client=client,
        created_by=actor.name,
        created_by_user_id=actor.user.pk if actor.user is not None else None,
        filename=filename[:255],
        options=spec.to_json(),
        input_rows=rows,
        link_base=link_base.rstrip("/"),
        invitation_lifetime=invitation_lifetime,
        total=len(rows),
    )
    console_audit(
        actor,
        "bulk.create",
        target_type="bulk_job",
        target_id=str(job.pk),
        group=client.group,
        details={"rows": len(rows), "client": client.client_id, "filename": job.filename},
    )
    enqueue_after_commit(BULK_TASK, job.pk)
    return job


@transaction.atomic
def bulk_job_requeue(*, actor: ConsoleActor, job: BulkJob) -> bool:
    """Hand a stalled job (its task lost with a broker or worker) to a worker again.

    Safe whatever the job is doing: a run skips the rows already done and a row is written at
    most once. False when the job is finished or still making progress.
    """
    stalled_before = timezone.now() - BULK_STALLED_AFTER
    if job.is_final or (job.started_at or job.created_at) > stalled_before:
        return False
    console_audit(
        actor,
        "bulk.requeue",
        target_type="bulk_job",
        target_id=str(job.pk),
        group=job.client.group,
    )
    enqueue_after_commit(BULK_TASK, job.pk)
    return True


def bulk_jobs_requeue_stalled(*, batch: int) -> int:
    """Hand every stalled job to a worker again (run by beat, so no job waits for a person)."""
    stalled_before = timezone.now() - BULK_STALLED_AFTER
    ids = list(
        BulkJob.objects.filter(state__in=[BulkJobState.PENDING, BulkJobState.RUNNING])
        .filter(
            Q(started_at__lte=stalled_before)
            | Q(started_at__isnull=True, created_at__lte=stalled_before)
        )
        .values_list("pk", flat=True)[:batch]
    )
    with transaction.atomic():
        for job_id in ids:
            enqueue_after_commit(BULK_TASK, job_id)
    return len(ids)


def _sealer() -> Fernet:
    digest = hashlib.sha256(f"bulk-links:{settings.HERMOD_KEY_HASH_SECRET}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def bulk_link_unseal(sealed: str) -> str:
    """A row's invitation link, or "" when it cannot be read (the server secret changed)."""
    if not sealed:
        return ""
    try:
        return _sealer().decrypt(sealed.encode()).decode()
    except InvalidToken:
        return ""


def _row_error(exc: Exception) -> str:
    if isinstance(exc, ProtocolError | CommandError | CryptoError):
        return exc.message
    return str(exc)


def _bulk_row(
    job: BulkJob,
    number: int,
    row: dict[str, str],
    spec: ProvisionSpec,
    actor: ConsoleActor,
    template_key: PrivateKey,
) -> None:
    """One row in one transaction: invitation, result row and counters, or none of them."""
    userid = row.get("userid", "")
    overrides = {name: value for name, value in row.items() if name != "userid" and value}
    try:
        with transaction.atomic():
            issued = invitation_create(
                actor=actor,
                client=job.client,
                spec=spec.for_user(userid, overrides),
                bulk_job=job,
                template_key=template_key,
                lifetime=job.invitation_lifetime,
            )
            BulkJobRow.objects.create(
                job=job,
                number=number,
                userid=userid,
                command=issued.invitation.command,
                link_sealed=_sealer().encrypt(f"{job.link_base}{issued.path}".encode()).decode(),
            )
            BulkJob.objects.filter(pk=job.pk).update(
                processed=F("processed") + 1, succeeded=F("succeeded") + 1
            )
        return
    except IntegrityError:
        if BulkJobRow.objects.filter(job=job, number=number).exists():
            # Another run of the same job wrote this row first, with its command.
            return
        logger.exception("bulk job %s row %d: integrity error", job.pk, number)
        error = "The row could not be stored."
    except (ProtocolError, CommandError, ConsoleError, CryptoError) as exc:
        error = _row_error(exc)
    try:
        with transaction.atomic():
            BulkJobRow.objects.create(job=job, number=number, userid=userid, error=error)
            BulkJob.objects.filter(pk=job.pk).update(
                processed=F("processed") + 1, failed=F("failed") + 1
            )
    except IntegrityError:
        return


def bulk_job_run(*, job_id: int) -> str:
    """Process every row of a job not processed yet; returns the job's state afterwards.

    Idempotent: a finished job is left alone, and rows already written are skipped, so a task
    delivered twice or re-run after a crash never issues a row's command twice.
    """
    now = timezone.now()
    claimed = BulkJob.objects.filter(
        pk=job_id, state__in=[BulkJobState.PENDING, BulkJobState.RUNNING]
    ).update(state=BulkJobState.RUNNING, started_at=Coalesce(F("started_at"), now))
    if not claimed:
        return "skipped"
    job = BulkJob.objects.select_related("client__group", "created_by_user").get(pk=job_id)
    actor = ConsoleActor(name=job.created_by, user=job.created_by_user)
    try:
        spec = ProvisionSpec.from_json(job.options)
    except (KeyError, TypeError, ValueError) as exc:
        BulkJob.objects.filter(pk=job_id).update(
            state=BulkJobState.FAILED,
            error=f"The job's provisioning template is unreadable ({exc.__class__.__name__}).",
            finished_at=timezone.now(),
        )
        return BulkJobState.FAILED
    done = set(BulkJobRow.objects.filter(job=job).values_list("number", flat=True))
    # One throw-away key signs every template of this run; the devices re-key them anyway.
    template_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for number, row in enumerate(job.input_rows, start=1):
        if number not in done:
            _bulk_row(job, number, row, spec, actor, template_key)
    # The smart-card admin keys were needed for the commands only: a finished job forgets them.
    BulkJob.objects.filter(pk=job_id, state=BulkJobState.RUNNING).update(
        state=BulkJobState.DONE,
        finished_at=timezone.now(),
        options=replace(spec, adminkey="", oldadminkey="").to_json(),
    )
    job.refresh_from_db(fields=["processed", "succeeded", "failed"])
    logger.info("bulk job %s done: %d processed, %d failed", job_id, job.processed, job.failed)
    return BulkJobState.DONE


class BulkResultGoneError(ConsoleError):
    """The result file was handed out already (or the job is not finished)."""


def _row_email(job: BulkJob, spec: ProvisionSpec | None, number: int, userid: str) -> str:
    """Where a row's link goes, for a mail merge: the user's emailAddress (the row's own, else
    the template's with ``{userid}`` filled in), else the user id when it is an address."""
    rows = job.input_rows
    row = rows[number - 1] if 0 < number <= len(rows) and isinstance(rows[number - 1], dict) else {}
    email = str(row.get("emailAddress") or "")
    if not email and spec is not None:
        email = dict(spec.for_user(userid).subject).get("emailAddress", "")
    if not email and "@" in userid:
        email = userid
    return email


@transaction.atomic
def bulk_result_csv(*, actor: ConsoleActor, job: BulkJob) -> str:
    """The result file (user, email, command id, invitation link, error), handed out once.

    The file holds working enrollment links, so the first download of a finished job takes it
    (a conditional UPDATE: two clicks at once get one file) and the sealed links are forgotten
    with it; a later download raises ``BulkResultGoneError`` (lost links are re-sent from the
    Invitations page). Audited as ``bulk.download``.
    """
    if not job.is_final:
        raise BulkResultGoneError("The job is still running; the file is ready when it ends.")
    taken = BulkJob.objects.filter(pk=job.pk, result_downloaded_at=None).update(
        result_downloaded_at=timezone.now(), result_downloaded_by=actor.name
    )
    if not taken:
        job.refresh_from_db(fields=["result_downloaded_at", "result_downloaded_by"])
        when = job.result_downloaded_at
        raise BulkResultGoneError(
            f"The result file was downloaded already"
            f"{f' on {when:%Y-%m-%d %H:%M} UTC' if when else ''}"
            f" by {job.result_downloaded_by or 'someone'}; it holds working links and is "
            "handed out once. Re-send a lost link from the Invitations page."
        )
    try:
        spec: ProvisionSpec | None = ProvisionSpec.from_json(job.options)
    except (KeyError, TypeError, ValueError):
        spec = None
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["userid", "email", "command_id", "invitation_link", "error"])
    rows = BulkJobRow.objects.filter(job=job).order_by("number")
    for row in rows:
        writer.writerow(
            [
                row.userid,
                _row_email(job, spec, row.number, row.userid),
                row.command_id or "",
                bulk_link_unseal(row.link_sealed),
                row.error,
            ]
        )
    rows.update(link_sealed="")
    console_audit(
        actor,
        "bulk.download",
        target_type="bulk_job",
        target_id=str(job.pk),
        group=job.client.group,
    )
    return out.getvalue()


# --- sign-in throttle -------------------------------------------------------------------------


def login_failure_delay(failures: int) -> timedelta:
    """The wait after a pair's ``failures``-th consecutive failure: none for the first
    ``LOGIN_FREE_FAILURES - 1``, then 2, 4, 8 … seconds, capped at ``LOGIN_MAX_DELAY``."""
    if failures < LOGIN_FREE_FAILURES:
        return timedelta(0)
    exponent = min(failures - LOGIN_FREE_FAILURES + 1, 20)
    return min(timedelta(seconds=2**exponent), LOGIN_MAX_DELAY)


@transaction.atomic
def login_failure_record(*, username: str, ip: str) -> timedelta:
    """Count a failed sign-in of ``username`` from ``ip``; the wait it starts (zero if none).

    Per (name, address): after ``LOGIN_FREE_FAILURES`` consecutive failures each further one
    makes the next attempt wait twice as long (``login_failure_delay``); failures are forgotten
    ``LOGIN_FORGET`` after the last one, or at once by a success or an admin. Per address:
    ``LOGIN_MAX_FAILURES_PER_IP`` failures within ``LOGIN_WINDOW``, whatever the names, block the
    address for ``LOGIN_IP_BLOCK`` (password spraying). Addresses count as
    ``hermod_core.proxies.budget_address`` (IPv6 by /64); the audit row keeps the full one.
    Audited as ``console.login_failed``.
    """
    now = timezone.now()
    first = {"window_started_at": now, "last_failed_at": now}
    counted = budget_address(ip)
    pair, _ = LoginThrottle.objects.select_for_update().get_or_create(
        username=LoginThrottle.name_of(username), ip=counted, defaults=first
    )
    if now - pair.last_failed_at > LOGIN_FORGET:
        pair.failures = 0
        pair.window_started_at = now
    pair.failures += 1
    pair.last_failed_at = now
    wait = login_failure_delay(pair.failures)
    pair.blocked_until = now + wait if wait else None
    pair.save()
    address, _ = LoginThrottle.objects.select_for_update().get_or_create(
        username="", ip=counted, defaults=first
    )
    if now - address.window_started_at > LOGIN_WINDOW:
        address.failures = 0
        address.window_started_at = now
    address.failures += 1
    address.last_failed_at = now
    if address.failures >= LOGIN_MAX_FAILURES_PER_IP:
        address.blocked_until = now + LOGIN_IP_BLOCK
        address.failures = 0
        address.window_started_at = now
        wait = max(wait, LOGIN_IP_BLOCK)
    address.save()
    audit_record(
        actor="anonymous",
        ip=ip or None,
        action="console.login_failed",
        target_type="account",
        target_id=username[:100],
        details={"failures": pair.failures, "wait_seconds": int(wait.total_seconds())},
    )
    return wait


def login_refusal_record(*, username: str, ip: str, scope: str, wait: timedelta) -> None:
    """Audit an attempt refused while throttled (``console.login_throttled``); its password was
    not checked and it does not count as a failure."""
    audit_record(
        actor="anonymous",
        ip=ip or None,
        action="console.login_throttled",
        target_type="account",
        target_id=username[:100],
        details={"scope": scope, "wait_seconds": max(1, int(wait.total_seconds()))},
    )


@transaction.atomic
def login_throttle_clear(*, actor: ConsoleActor, throttle_id: int) -> LoginThrottle | None:
    """An admin lifts a throttle (a name from an address, or a whole address); audited as
    ``console.login_unthrottled``. None if there was no such row (already cleared)."""
    row = LoginThrottle.objects.select_for_update().filter(pk=throttle_id).first()
    if row is None:
        return None
    row.delete()
    console_audit(
        actor,
        "console.login_unthrottled",
        target_type="account" if row.username else "address",
        target_id=(row.username or row.ip)[:100],
        details={"ip": row.ip, "failures": row.failures},
    )
    return row


def console_session_record(
    *, user: AbstractBaseUser, ip: str, action: str, details: dict[str, Any] | None = None
) -> None:
    """Audit a sign-in or sign-out (``console.login`` / ``console.logout``)."""
    name = user.get_username()
    audit_record(
        actor=name,
        user=user,
        ip=ip or None,
        action=action,
        target_type="account",
        target_id=name[:100],
        details=details,
    )


def login_success_reset(*, username: str, ip: str) -> None:
    """Forget the failures of this name from this address (not the address's own count)."""
    name = LoginThrottle.name_of(username)
    if name:
        LoginThrottle.objects.filter(username=name, ip=budget_address(ip)).delete()
