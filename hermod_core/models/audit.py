"""The audit log: who changed what, from the console, the command line or the API."""

from django.conf import settings
from django.db import models

from hermod_core.models.clients import Group


class AuditEvent(models.Model):
    """An append-only record of one change, with its actor (a person, a client or the system)."""

    at = models.DateTimeField(auto_now_add=True)
    actor = models.CharField(max_length=200)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    action = models.CharField(max_length=100)
    target_type = models.CharField(max_length=50, blank=True)
    target_id = models.CharField(max_length=100, blank=True)
    group = models.ForeignKey(Group, null=True, blank=True, on_delete=models.SET_NULL)
    details = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        db_table = "hermod_audit_event"
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["at"], name="audit_by_time"),
            models.Index(fields=["action", "at"], name="audit_by_action"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor} {self.action}"
