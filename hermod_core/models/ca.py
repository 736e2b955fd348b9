"""One-time SCEP challenges handed to devices inside CSR templates (docs/PROTOCOL.md §10)."""

from django.db import models

from hermod_core.models.clients import Group
from hermod_core.models.commands import Command


class CaChallenge(models.Model):
    """A one-time challengePassword minted for one CSR template of one provisioning command.

    Only the keyed hash of the challenge is kept here (``services.credentials``); the challenge
    itself travels inside the template the device fetches, and the group's CA hands it back to
    Hermod for checking. It verifies only for its own group, while its command's CA step is
    PENDING and before ``expires_at``, and only for the public key the device proved in its
    accepted answer. The first accepted verification marks it consumed and records that key's
    RFC 7638 thumbprint (``bound_key_thumbprint``); later verifications succeed only for the
    same key (a retried enrolment). It dies with its command (the rows are deleted with it).
    """

    command = models.ForeignKey(Command, on_delete=models.CASCADE, related_name="ca_challenges")
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="+")
    keyid = models.CharField(max_length=100)
    challenge_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    consumed_at = models.DateTimeField(null=True, blank=True)
    bound_key_thumbprint = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "hermod_ca_challenge"
        constraints = [
            models.UniqueConstraint(fields=["command", "keyid"], name="ca_challenge_per_key"),
        ]

    def __str__(self) -> str:
        return f"challenge of command {self.command_id} key {self.keyid}"
