"""Tenants (groups) and the application servers (clients) that call the command API."""

from datetime import datetime

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from hermod_core.protocol.client_config import (
    CLIENT_ID_MAX,
    CLIENT_ID_RULE,
    INTEGER_BOUNDS,
    is_client_id,
    is_http_url,
)


def validate_client_id(value: str) -> None:
    """The client-id rule (``protocol.client_config.is_client_id``) as a field validator."""
    if not is_client_id(value):
        raise ValidationError(CLIENT_ID_RULE, code="invalid")


def validate_client_id_free(value: str) -> None:
    """No client holds the id ``value``, a deleted one included (its commands keep naming it):
    the one uniqueness check of a new client's id, with one wording, which the console's form
    runs and ``services.clients.client_create`` (the command line, the console) raises as
    ``ClientError``."""
    existing = Client.objects.filter(client_id=value).only("deleted_at").first()
    if existing is None:
        return
    if existing.deleted_at is not None:
        raise ValidationError(
            f"client {value!r} was deleted; its commands keep the id, choose another",
            code="deleted",
        )
    raise ValidationError(f"client {value!r} already exists", code="unique")


def validate_http_url(value: str) -> None:
    if value and not is_http_url(value):
        raise ValidationError("Enter an absolute http(s) URL.", code="invalid")


def _bounds(member: str) -> list[MinValueValidator | MaxValueValidator]:
    """The configuration file's bounds of a retry-policy member (``INTEGER_BOUNDS``)."""
    low, high = INTEGER_BOUNDS[member]
    return [MinValueValidator(low), MaxValueValidator(high)]


class Group(models.Model):
    """A tenant (docs/PROTOCOL.md §1): users, profiles and boxes belong to exactly one group.

    Every client of a group sees the same users and profiles; nothing crosses groups.
    """

    name = models.CharField(max_length=100, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "hermod_group"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Client(models.Model):
    """An application server with an API key (docs/PROTOCOL.md §3).

    The key itself is never stored: only its keyed hash (HMAC-SHA256 with HERMOD_KEY_HASH_SECRET),
    compared in constant time. ``callback_basic_auth``, ``callback_signing_secret`` and
    ``content_provider_basic_auth`` are kept because the server must present them; they are never
    shown back in full and never logged.
    """

    client_id = models.CharField(
        max_length=CLIENT_ID_MAX, unique=True, validators=[validate_client_id]
    )
    group = models.ForeignKey(Group, on_delete=models.PROTECT, related_name="clients")
    key_hash = models.CharField(max_length=64, blank=True)
    enabled = models.BooleanField(default=True)
    callback_url = models.CharField(max_length=500, blank=True, validators=[validate_http_url])
    callback_basic_auth = models.CharField(max_length=300, blank=True)
    callback_signing_secret = models.CharField(max_length=200, blank=True)
    # Per-client callback retry policy (docs/PROTOCOL.md §8 ``attempts``/``retry-delay``); None: the
    # server's defaults (HERMOD_CALLBACK_ATTEMPTS, HERMOD_CALLBACK_RETRY_DELAY).
    callback_attempts = models.PositiveIntegerField(
        null=True, blank=True, validators=_bounds("attempts")
    )
    callback_retry_delay = models.PositiveIntegerField(
        null=True, blank=True, validators=_bounds("retry_delay")
    )
    # Content provider (docs/PROTOCOL.md §13): resolves content ids of the client's commands.
    content_provider_url = models.CharField(
        max_length=500, blank=True, validators=[validate_http_url]
    )
    content_provider_basic_auth = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    key_rotated_at = models.DateTimeField(null=True, blank=True)
    # Deleted from the console: no key, disabled, out of the lists. The row stays so that its
    # commands (and their callbacks, the audit) keep naming it; its id is not given out again.
    deleted_at = models.DateTimeField(null=True, blank=True)
    # The key a rotation replaced, still accepted until ``previous_key_expires_at`` (the grace
    # period the admin chose so that the application server can switch without an outage).
    previous_key_hash = models.CharField(max_length=64, blank=True)
    previous_key_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "hermod_client"
        ordering = ["client_id"]

    def __str__(self) -> str:
        return self.client_id

    @property
    def has_key(self) -> bool:
        return bool(self.key_hash)

    def previous_key_hash_at(self, now: datetime) -> str:
        """The digest of the replaced key while its grace period lasts, else ""."""
        expires = self.previous_key_expires_at
        return self.previous_key_hash if expires is not None and now < expires else ""

    def clean(self) -> None:
        if self.content_provider_basic_auth and ":" not in self.content_provider_basic_auth:
            raise ValidationError(
                {"content_provider_basic_auth": "Write it user:password."}, code="basic_auth"
            )


class TrustedAttestationKey(models.Model):
    """A device attestation key a group accepts (docs/PROTOCOL.md §6.2 rule 1).

    When a group has at least one, provisioning answers signed by any other key are refused.
    """

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="trusted_keys")
    label = models.CharField(max_length=200, blank=True)
    jwk = models.JSONField()
    thumbprint = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "hermod_trusted_attestation_key"
        constraints = [
            models.UniqueConstraint(
                fields=["group", "thumbprint"], name="trusted_key_unique_per_group"
            )
        ]

    def __str__(self) -> str:
        return self.label or self.thumbprint


class TrustedSignerCa(models.Model):
    """A CA certificate a group trusts for the signers of profile-less answers (docs/PROTOCOL.md
    §6.3).

    An auth/sign command sent to ``@tmp`` without a profile is answered by whichever desktop app
    opens it, with the signer's certificate in the answer. When the group has at least one of
    these, that certificate must chain to one of them (else the answer is refused); without any,
    the answer completes with ``signer.verified: false`` ("unverified signer").
    """

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="trusted_signer_cas")
    label = models.CharField(max_length=200, blank=True)
    der_b64 = models.TextField()
    subject = models.CharField(max_length=1000)
    sha256 = models.CharField(max_length=64)
    not_after = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "hermod_trusted_signer_ca"
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["group", "sha256"], name="trusted_signer_ca_unique_per_group"
            )
        ]

    def __str__(self) -> str:
        return self.label or self.subject


class ChallengeMode(models.TextChoices):
    """What the CSR templates of a group's provisionings carry for its SCEP CA (docs/PROTOCOL.md
    §10)."""

    NONE = "none", "none (the CA needs no challenge)"
    ONE_TIME = "one-time", "one-time (a fresh challenge per template, checked by Hermod)"
    STATIC = "static", "static (the CA's password in every template: insecure)"


class CaSettings(models.Model):
    """The SCEP certificate authority of a group (docs/PROTOCOL.md §10).

    ``challenge_mode`` decides what a template carries: nothing, a one-time challenge the CA
    checks with Hermod (``CaChallenge``), or — an explicit, warned opt-in — the static
    ``challenge_password``, which then reaches every device. The CA authenticates to the verify
    endpoint with the verifier credential, of which only the keyed hash is stored
    (``verifier_hash``); the credential is shown once, when generated.
    """

    group = models.OneToOneField(Group, on_delete=models.CASCADE, related_name="ca_settings")
    enabled = models.BooleanField(default=True)
    scep_url = models.CharField(max_length=500, validators=[validate_http_url])
    challenge_mode = models.CharField(
        max_length=10, choices=ChallengeMode.choices, default=ChallengeMode.ONE_TIME
    )
    challenge_password = models.CharField(max_length=200, blank=True)
    verifier_hash = models.CharField(max_length=64, blank=True, db_index=True)
    verifier_created_at = models.DateTimeField(null=True, blank=True)
    ra_certificate_pem = models.TextField(blank=True)
    ra_key_pem = models.TextField(blank=True)
    auto_certify = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "hermod_ca_settings"

    def __str__(self) -> str:
        return f"CA of {self.group_id}: {self.scep_url}"

    def clean(self) -> None:
        if self.challenge_mode == ChallengeMode.STATIC and not self.challenge_password:
            raise ValidationError(
                {"challenge_mode": "The static mode needs a challenge password."},
                code="static_without_password",
            )

    @property
    def sends_static_password(self) -> bool:
        """Whether templates carry the CA's own password (the warned opt-in)."""
        return self.challenge_mode == ChallengeMode.STATIC and bool(self.challenge_password)
