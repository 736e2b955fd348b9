"""Console and enrollment-portal concepts: invitations, bulk jobs and the sign-in throttle."""

from datetime import datetime

from django.conf import settings
from django.db import models

from hermod_core.models import Client, Command, CommandState, Group

# The states of an invitation's command that leave it open: in progress, or expired unused
# (the link then asks for a new request).
OPEN_COMMAND_STATES = frozenset({CommandState.IN_PROGRESS, CommandState.EXPIRED})


class InvitationQuerySet(models.QuerySet["EnrollmentInvitation"]):
    def open(self, now: datetime) -> "InvitationQuerySet":
        """Invitations whose link may still lead to an enrollment (``EnrollmentInvitation.is_open``
        as a query)."""
        return self.filter(
            revoked_at=None, expires_at__gt=now, command__state__in=OPEN_COMMAND_STATES
        )


class EnrollmentInvitation(models.Model):
    """A one-time link ``/enroll/<code>`` that lets an end user enroll one device.

    The code is random (192 bits) and only its keyed hash is stored, so a copy of the database
    opens no invitation; a re-send replaces the code (the old link stops working). The link has
    its own lifetime (``expires_at``, 72 hours by default), independent of the QR code's: the
    invitation carries one provisioning command at a time, and when that request's lifespan or
    timeout has passed unused, the person holding the link asks for a new one from the same
    spec (kept sealed in ``spec_sealed``, since it may hold smart-card admin keys). It is dead
    for good once its command completed, failed or was cancelled, once revoked, or past
    ``expires_at``.
    """

    code_hash = models.CharField(max_length=64, unique=True)
    command = models.OneToOneField(Command, on_delete=models.CASCADE, related_name="invitation")
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="invitations")
    userid = models.CharField(max_length=255)
    created_by = models.CharField(max_length=200)
    bulk_job = models.ForeignKey(
        "portal.BulkJob",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="invitations",
    )
    expires_at = models.DateTimeField()
    lifetime = models.DurationField(null=True, blank=True)  # from its (re-)sending
    spec_sealed = models.TextField(blank=True)
    requests_issued = models.PositiveIntegerField(default=1)
    opened_at = models.DateTimeField(null=True, blank=True)
    resent_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        db_table = "hermod_enrollment_invitation"
        ordering = ["-id"]
        indexes = [models.Index(fields=["group", "userid"], name="invitation_by_user")]

    def __str__(self) -> str:
        return f"invitation for {self.userid} (command {self.command_id})"

    def is_open(self, now: datetime) -> bool:
        """Whether the link may still lead to an enrollment (``portal.selectors`` has the same
        rule as a query: ``invitations_open``)."""
        return (
            self.revoked_at is None
            and self.expires_at > now
            and self.command.state in OPEN_COMMAND_STATES
        )


class BulkJobState(models.TextChoices):
    PENDING = "PENDING"  # written, waiting for a worker
    RUNNING = "RUNNING"
    DONE = "DONE"  # every row was processed (some may have failed: see the rows)
    FAILED = "FAILED"  # the job itself could not run (e.g. its client was removed)


class BulkJob(models.Model):
    """A bulk provisioning upload: the ledger row first, then a worker processes it.

    ``input_rows`` holds the parsed CSV, ``options`` the provisioning template shared by every
    row. The worker writes one ``BulkJobRow`` per input row in its own transaction together with
    the counters, so a job interrupted at any point resumes where it stopped and never creates a
    row's command twice.
    """

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="bulk_jobs")
    created_by = models.CharField(max_length=200)
    created_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    state = models.CharField(
        max_length=10, choices=BulkJobState.choices, default=BulkJobState.PENDING
    )
    filename = models.CharField(max_length=255, blank=True)
    options = models.JSONField(default=dict)
    input_rows = models.JSONField(default=list)
    link_base = models.CharField(max_length=500, help_text="scheme://host of the invitation links")
    invitation_lifetime = models.DurationField(null=True, blank=True)  # None: the server's
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    succeeded = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The result file holds working links: it is handed out once, then the sealed links are
    # forgotten (a lost file means re-sending the invitations from the Invitations page).
    result_downloaded_at = models.DateTimeField(null=True, blank=True)
    result_downloaded_by = models.CharField(max_length=200, blank=True)

    class Meta:
        db_table = "hermod_bulk_job"
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(processed__lte=models.F("total")),
                name="bulk_job_processed_within_total",
            ),
        ]

    def __str__(self) -> str:
        return f"bulk job {self.pk} ({self.state})"

    @property
    def is_final(self) -> bool:
        return self.state in {BulkJobState.DONE, BulkJobState.FAILED}

    @property
    def percent(self) -> int:
        return 100 if not self.total else int(100 * self.processed / self.total)


class BulkJobRow(models.Model):
    """The outcome of one CSV row: its command and invitation link, or why it failed.

    ``link_sealed`` is the invitation link encrypted with a key derived from the server secret
    (Fernet): the result file needs the link, the invitation table keeps only the code's hash.
    """

    job = models.ForeignKey(BulkJob, on_delete=models.CASCADE, related_name="rows")
    number = models.PositiveIntegerField()
    userid = models.CharField(max_length=255, blank=True)
    command = models.ForeignKey(
        Command, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    link_sealed = models.TextField(blank=True)
    error = models.TextField(blank=True)

    class Meta:
        db_table = "hermod_bulk_job_row"
        ordering = ["job", "number"]
        constraints = [
            models.UniqueConstraint(fields=["job", "number"], name="bulk_job_row_unique"),
        ]

    def __str__(self) -> str:
        return f"row {self.number} of job {self.job_id}"


class LoginThrottle(models.Model):
    """Failed console sign-ins of one account name from one address (``username`` set), or from
    one address whatever the names tried (``username`` empty): ``portal.services.login`` decides.

    A pair's ``failures`` are consecutive (a success, or an admin clearing the row, deletes it)
    and ``blocked_until`` is when its next attempt may be checked; an address's ``failures`` count
    since ``window_started_at``. Name (case-folded, as typed: unknown names are throttled like
    real ones) and address (an IPv6 one as its /64, ``hermod_core.proxies.budget_address``) are
    kept in the clear so that an admin sees who is throttled from
    where; the audit log holds both anyway. In the database rather than the cache so that every
    web worker process sees the same counts.
    """

    username = models.CharField(max_length=150, blank=True)
    ip = models.CharField(max_length=64, blank=True)
    failures = models.PositiveIntegerField(default=0)
    window_started_at = models.DateTimeField()
    last_failed_at = models.DateTimeField()
    blocked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "hermod_login_throttle"
        constraints = [
            models.UniqueConstraint(fields=["username", "ip"], name="login_throttle_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.username or '*'} from {self.ip or '?'}: {self.failures} failures"

    @staticmethod
    def name_of(username: str) -> str:
        """How a typed account name is stored: case-folded, cut to the field's length."""
        return username.casefold()[:150]


class AccountInvitation(models.Model):
    """A one-time link ``/console/join/<token>`` that lets someone create a console account with
    the role chosen by the admin who sent it.

    The token is random (256 bits) and only its keyed hash is stored (``token_hash``), so a copy
    of the database opens no invitation. It is used at most once (``used_at`` is claimed by a
    conditional UPDATE) and dead after ``expires_at`` or once ``revoked_at`` is set.
    """

    token_hash = models.CharField(max_length=64, unique=True)
    role = models.CharField(max_length=20)
    email = models.EmailField(blank=True)
    created_by = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    used_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "hermod_account_invitation"
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"account invitation {self.pk} ({self.role})"


class ConsoleSecurity(models.Model):
    """Console-wide sign-in settings an admin changes in the console: one row (``pk=1``).

    ``require_mfa``: every console account must have a second factor (TOTP or a passkey); an
    account without one is sent to set it up before it sees anything else.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    require_mfa = models.BooleanField(default=False)
    updated_by = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "hermod_console_security"
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="console_security_one")
        ]

    def __str__(self) -> str:
        return f"console security (MFA {'required' if self.require_mfa else 'optional'})"
