"""Bulk provisioning jobs: a CSV upload becomes a job row, worked through by a task one
row per transaction (an invitation each), re-queued when stalled; the result CSV with the links.
"""

import base64
import csv
import hashlib
import io
import logging
from dataclasses import replace
from datetime import timedelta

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from hermod_core.crypto.errors import CryptoError
from hermod_core.crypto.jwk import PrivateKey
from hermod_core.models import Client
from hermod_core.protocol.errors import ProtocolError
from hermod_core.services.audit import Actor, audit_record
from hermod_core.services.commands import CommandError
from hermod_core.services.dispatch import enqueue_after_commit
from hermod_core.services.errors import ServiceError
from portal.models import (
    BulkJob,
    BulkJobRow,
    BulkJobState,
)
from portal.provisioning import SUBJECT_FIELDS, ProvisionSpec
from portal.services.invitations import invitation_create, problem_text

logger = logging.getLogger("hermod.portal")


BULK_TASK = "hermod.portal.bulk_provision"
MAX_BULK_ROWS = 5000
MAX_BULK_BYTES = 1024 * 1024
# A user id and a few subject attributes: a longer line is not a bulk upload.
MAX_BULK_LINE_CHARS = 2048
# A job that made no progress for this long was probably lost with its task; it may be re-run.
BULK_STALLED_AFTER = timedelta(minutes=2)

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
    actor: Actor,
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
        raise ServiceError(f"Client {client.client_id} is disabled.")
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
    audit_record(
        actor=actor,
        action="bulk.create",
        target_type="bulk_job",
        target_id=str(job.pk),
        group=client.group,
        details={"rows": len(rows), "client": client.client_id, "filename": job.filename},
    )
    enqueue_after_commit(BULK_TASK, job.pk)
    return job


@transaction.atomic
def bulk_job_requeue(*, actor: Actor, job: BulkJob) -> bool:
    """Hand a stalled job (its task lost with a broker or worker) to a worker again.

    Safe whatever the job is doing: a run skips the rows already done and a row is written at
    most once. False when the job is finished or still making progress.
    """
    stalled_before = timezone.now() - BULK_STALLED_AFTER
    if job.is_final or (job.started_at or job.created_at) > stalled_before:
        return False
    audit_record(
        actor=actor,
        action="bulk.requeue",
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


def _bulk_row(
    job: BulkJob,
    number: int,
    row: dict[str, str],
    spec: ProvisionSpec,
    actor: Actor,
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
    except (ProtocolError, CommandError, ServiceError, CryptoError) as exc:
        error = problem_text(exc)
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
    actor = Actor(name=job.created_by, user=job.created_by_user)
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


class BulkResultGoneError(ServiceError):
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
def bulk_result_csv(*, actor: Actor, job: BulkJob) -> str:
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
    audit_record(
        actor=actor,
        action="bulk.download",
        target_type="bulk_job",
        target_id=str(job.pk),
        group=job.client.group,
    )
    return out.getvalue()
