"""The one way to write the audit log, and who acts (``Actor``)."""

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from hermod_core.models import AuditEvent, Group


@dataclass(frozen=True)
class Actor:
    """Who acts, as the audit log names them: ``name`` (the audit row's ``actor``: an account's
    user name, or a part of the system such as ``cli``), the signed-in account if there is one
    and the address the request came from.

    Every service that audits takes one, passed by its caller (the console builds it from the
    request, ``portal.actors.actor_from``; a command line or a worker names itself with
    ``Actor.system``); no service finds out by itself who called it.
    """

    name: str
    user: AbstractBaseUser | None = None
    address: str | None = None

    @classmethod
    def system(cls, name: str) -> "Actor":
        """A part of the system acting on its own (``cli``, ``ca`` …): no account, no address."""
        return cls(name=name)


def audit_record(
    *,
    actor: Actor,
    action: str,
    target_type: str = "",
    target_id: str = "",
    group: Group | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit event naming ``actor``; call it inside the transaction of the change it
    records."""
    return AuditEvent.objects.create(
        actor=actor.name,
        actor_user=actor.user,  # type: ignore[misc]  # the project's user model
        action=action,
        target_type=target_type,
        target_id=target_id,
        group=group,
        details=details or {},
        ip=actor.address,
    )
