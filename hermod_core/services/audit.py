"""The one way to write the audit log."""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from hermod_core.models import AuditEvent, Group

# The signed-in account and address behind the services called in this context (the console
# sets it), so that every service's audit row names them without passing them through each call.
_acting: ContextVar[tuple[AbstractBaseUser | None, str | None] | None] = ContextVar(
    "acting", default=None
)


@contextmanager
def acting_as(user: AbstractBaseUser | None, ip: str | None) -> Iterator[None]:
    token = _acting.set((user, ip))
    try:
        yield
    finally:
        _acting.reset(token)


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
    acting = _acting.get()
    if user is None and ip is None and acting is not None:
        user, ip = acting
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
