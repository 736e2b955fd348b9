"""Groups (tenants) as the console manages them: created explicitly, renamed, deleted when empty.

A group is never created as a side effect of a console form any more (a typo in a free-text
field used to create a tenant); the console picks an existing group from a list, and a new one
is made here, on purpose, audited.
"""

import re

from django.db import IntegrityError, transaction

from hermod_core.models import Group
from hermod_core.services.audit import Actor, audit_record
from hermod_core.services.errors import ServiceError

# Letters, digits and . _ - inside; it is part of console URLs (/console/groups/<name>/).
_GROUP_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,98}[A-Za-z0-9])?")
GROUP_NAME_RULE = (
    "1 to 100 letters, digits, dots, dashes or underscores, starting and ending with a letter "
    "or digit."
)


def group_name_check(name: str) -> str:
    """The name, or ``ServiceError`` saying what a valid group name is."""
    if not _GROUP_NAME.fullmatch(name):
        raise ServiceError(f"{name!r} is not a valid group name: {GROUP_NAME_RULE}")
    return name


def _taken(name: str, *, other_than: Group | None = None) -> bool:
    taken = Group.objects.filter(name__iexact=name)
    if other_than is not None:
        taken = taken.exclude(pk=other_than.pk)
    return taken.exists()


def group_create(*, actor: Actor, name: str) -> Group:
    """A new, empty group. Refused (``ServiceError``) when the name is invalid or taken, in any
    letter case: ``Acme`` and ``acme`` would be two tenants nobody tells apart."""
    group_name_check(name)
    try:
        with transaction.atomic():
            if _taken(name):
                raise ServiceError(f"A group named {name} exists already.")
            group = Group.objects.create(name=name)
            audit_record(actor=actor, action="group.create", about=group)
    except IntegrityError:
        raise ServiceError(f"A group named {name} exists already.") from None
    return group


def group_rename(*, actor: Actor, group: Group, name: str) -> Group:
    """Give a group another name; its clients, users and profiles stay in it (they refer to it
    by id). Clients' configuration files name the group, so an export after this shows the new
    name."""
    group_name_check(name)
    old = group.name
    if name == old:
        return group
    try:
        with transaction.atomic():
            if _taken(name, other_than=group):
                raise ServiceError(f"A group named {name} exists already.")
            Group.objects.filter(pk=group.pk).update(name=name)
            group.name = name
            audit_record(
                actor=actor,
                action="group.rename",
                about=group,
                details={"from": old, "to": name},
            )
    except IntegrityError:
        raise ServiceError(f"A group named {name} exists already.") from None
    return group


def group_contents(group: Group) -> dict[str, int]:
    """What keeps a group from being deleted: its clients (deleted ones too, whose commands are
    kept), users, profiles, commands and mailboxes, each counted; empty when there is none."""
    counts = {
        "clients": group.clients.count(),
        "users": group.users.count(),
        "profiles": group.profiles.count(),
        "commands": group.commands.count(),
        "mailboxes": group.mailboxes.count(),
    }
    return {name: count for name, count in counts.items() if count}


_SINGULAR = {
    "clients": "client",
    "users": "user",
    "profiles": "profile",
    "commands": "command",
    "mailboxes": "mailbox",
}


def group_contents_text(contents: dict[str, int]) -> str:
    """``group_contents`` in words: "1 client, 12 commands"."""
    return ", ".join(
        f"{count} {name if count != 1 else _SINGULAR[name]}" for name, count in contents.items()
    )


@transaction.atomic
def group_delete(*, actor: Actor, group: Group) -> None:
    """Delete an empty group (its trusted keys, signer CAs and CA settings go with it).

    A group that still holds clients, users, profiles or commands is refused with the counts,
    so that nothing of a tenant is lost by a click; the audit keeps the name.
    """
    locked = Group.objects.select_for_update().filter(pk=group.pk).first()
    if locked is None:
        raise ServiceError(f"The group {group.name} does not exist any more.")
    contents = group_contents(locked)
    if contents:
        listed = group_contents_text(contents)
        raise ServiceError(
            f"The group {locked.name} is not empty ({listed}); only an empty group can be deleted."
        )
    audit_record(actor=actor, action="group.delete", target_type="group", target_id=locked.name)
    locked.delete()
