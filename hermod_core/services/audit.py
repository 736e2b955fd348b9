"""The one way to write the audit log, and who acts (``Actor``)."""

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from hermod_core.models import AuditEvent, Client, Command, Group, Profile


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


# The rows an audit event can be about, each naming itself and its group as ``_about`` says.
Audited = Client | Command | Group | Profile


def _about(row: Audited) -> tuple[str, str, int]:
    """The target type, id and group id of an event about ``row`` (no query: the ids are on it)."""
    if isinstance(row, Group):
        return "group", row.name, row.pk
    if isinstance(row, Client):
        return "client", row.client_id, row.group_id
    return type(row).__name__.lower(), str(row.pk), row.group_id  # a command or a profile


def audit_record(
    *,
    actor: Actor,
    action: str,
    about: Audited | None = None,
    target_type: str = "",
    target_id: str = "",
    group: Group | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit event naming ``actor``; call it inside the transaction of the change it
    records. The event is ``about`` a client, command, group or profile (its id and group are
    the target), or else names its target with ``target_type``, ``target_id`` and ``group`` (an
    account, an address, a group being deleted)."""
    group_id = group.pk if group is not None else None
    if about is not None:
        target_type, target_id, group_id = _about(about)
    return AuditEvent.objects.create(
        actor=actor.name,
        actor_user=actor.user,  # type: ignore[misc]  # the project's user model
        action=action,
        target_type=target_type,
        target_id=target_id,
        group_id=group_id,
        details=details or {},
        ip=actor.address,
    )
