"""Users, the profiles provisioned on their devices, and the keys and certificates of a profile."""

import uuid

from django.db import models

from hermod_core.models.clients import Group


class EndUser(models.Model):
    """A ``userid`` inside a group (docs/PROTOCOL.md §1): an e-mail address, an employee number…"""

    group = models.ForeignKey(Group, on_delete=models.PROTECT, related_name="users")
    userid = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "hermod_user"
        ordering = ["userid"]
        constraints = [
            models.UniqueConstraint(fields=["group", "userid"], name="user_unique_per_group")
        ]

    def __str__(self) -> str:
        return self.userid


class ProfileState(models.TextChoices):
    ACTIVE = "ACTIVE"
    DELETED = "DELETED"


class Profile(models.Model):
    """One provisioned identity on one device (docs/PROTOCOL.md §1, §6.2).

    Created only by a validated provisioning answer; ``attestation_thumbprint`` is the RFC 7638
    thumbprint of the app's attestation key that signed it.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    group = models.ForeignKey(Group, on_delete=models.PROTECT, related_name="profiles")
    user = models.ForeignKey(EndUser, on_delete=models.PROTECT, related_name="profiles")
    state = models.CharField(
        max_length=10, choices=ProfileState.choices, default=ProfileState.ACTIVE
    )
    name = models.CharField(max_length=255)
    servername = models.CharField(max_length=255)
    device_info = models.JSONField(default=dict, blank=True)
    attestation_jwk = models.JSONField(default=dict, blank=True)
    attestation_thumbprint = models.CharField(max_length=64, blank=True)
    # Desktop app fields (docs/PROTOCOL.md §5.1), passed through untouched and shown in the console.
    smartcard_id = models.CharField(max_length=255, blank=True)
    vscinfo = models.JSONField(default=dict, blank=True)
    desktop_extensions = models.JSONField(default=list, blank=True)
    desktop_key_protection_level = models.CharField(max_length=20, blank=True)
    created_by_command = models.ForeignKey(
        "hermod_core.Command", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "hermod_profile"
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["group", "user", "state"], name="profile_by_user"),
            # A smart-card id addresses its profile when profileid is absent (docs/PROTOCOL.md
            # §5.2).
            models.Index(fields=["group", "smartcard_id"], name="profile_by_smartcard"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.id})"


class KeyUsage(models.TextChoices):
    SIG = "SIG"
    AUTH = "AUTH"
    ENC = "ENC"
    DEVICE_ENC = "DEVICE_ENC"


class Key(models.Model):
    """A key generated on the device for one key request, with its JWK and re-keyed CSR."""

    profile = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="keys")
    keyid = models.CharField(max_length=100)
    usage = models.CharField(max_length=12, choices=KeyUsage.choices)
    keytype = models.CharField(max_length=4)
    keylength = models.PositiveIntegerField()
    keystate = models.CharField(max_length=10, default="ACTIVE")
    jwk = models.JSONField()
    thumbprint = models.CharField(max_length=64)
    certreq = models.TextField(help_text="base64 DER PKCS#10 signed by the key")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "hermod_key"
        ordering = ["id"]
        # The signer of a profile-less answer is matched to its profile by key thumbprint.
        indexes = [models.Index(fields=["thumbprint"], name="key_by_thumbprint")]
        constraints = [
            models.UniqueConstraint(fields=["profile", "keyid"], name="key_unique_per_profile")
        ]

    def __str__(self) -> str:
        return self.keyid


class Certificate(models.Model):
    """An X.509 certificate of a profile key, from a CA (§10) or a certificate command (§5.2)."""

    class Source(models.TextChoices):
        CA = "CA"
        COMMAND = "COMMAND"

    profile = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="certificates")
    key = models.ForeignKey(Key, on_delete=models.CASCADE, related_name="certificates")
    source = models.CharField(max_length=10, choices=Source.choices)
    der_b64 = models.TextField()
    subject = models.CharField(max_length=1000)
    issuer = models.CharField(max_length=1000)
    serial = models.CharField(max_length=100)
    not_before = models.DateTimeField()
    not_after = models.DateTimeField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "hermod_certificate"
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["key", "sha256"], name="certificate_unique_per_key")
        ]

    def __str__(self) -> str:
        return self.subject


class AcceptedSignature(models.Model):
    """A signature value the server accepted in an auth/sign answer (docs/PROTOCOL.md §6.3).

    A signature completes one command, never another: ``sha256`` is the value's replay
    fingerprint (``crypto.signatures``, canonical, so a re-encoded or ECDSA-mirrored copy has the
    same one), and the unique constraints are the replay check itself — a row is written in the
    transaction that completes the command, and a second insert of it fails
    (``services.answers``), also when two answers race.

    Keyed by ``profile`` when the signer is a known profile (the command's, or the profile whose
    key signed an answer to a profile-less ``@tmp`` command); a profile-less answer also writes a
    row keyed by ``signer``, the RFC 7638 thumbprint of the signing public key (never of the
    certificate: anyone can wrap someone else's key in another certificate), so a replay is
    refused whichever certificate it comes with.
    """

    # The unique constraint's index leads with profile_id: no separate index for the foreign key.
    profile = models.ForeignKey(
        Profile, null=True, blank=True, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    signer = models.CharField(max_length=64, blank=True)
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "hermod_accepted_signature"
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["profile", "sha256"], name="accepted_signature_unique_per_profile"
            ),
            models.UniqueConstraint(
                fields=["signer", "sha256"],
                condition=models.Q(profile__isnull=True),
                name="accepted_signature_unique_per_signer",
            ),
        ]

    def __str__(self) -> str:
        return self.sha256
