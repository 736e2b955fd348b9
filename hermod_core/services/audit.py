"""The one way to write the audit log."""

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from hermod_core.models import AuditEvent, Group


def audit_record(
    *,
    actor: str,
    action: str,
    target_type: str = "",
    target_id: str = "",
    group: Group | None = None,
    details: dict[str, Any] | None = None,
    user: AbstractBaseUser | AnonymousUser | None = None,
    ip: str | None = None,
) -> AuditEvent:
    """Append one audit event; call it inside the transaction of the change it records."""
    return AuditEvent.objects.create(
        actor=actor,
        actor_user=user if isinstance(user, AbstractBaseUser) else None,  # type: ignore[misc]
        action=action,
        target_type=target_type,
        target_id=target_id,
        group=group,
        details=details or {},
        ip=ip,
    )
