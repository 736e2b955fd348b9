"""Reads of profiles that commands are addressed to (PROTOCOL.md §4.1).

Hand-written SQL: these run for every command created, and Django spends several times the round
trip's CPU compiling the ORM form of a join (README "Performance"). Each row comes back as a
``Profile`` instance (through ``raw()``) with the id of its permanent box.
"""

import uuid

from django.db import connection

from hermod_core.models import Profile, ProfileState

_SELECT = (
    "SELECT p.*, m.id AS box_id FROM hermod_profile p JOIN hermod_mailbox m ON m.profile_id = p.id "
)
_BY_ID = _SELECT + "WHERE p.id = %s AND p.group_id = %s AND p.state = %s"
_BY_USERID = (
    _SELECT + "JOIN hermod_user u ON u.id = p.user_id "
    "WHERE u.userid = %s AND p.group_id = %s AND p.state = %s AND m.closed_at IS NULL "
    "ORDER BY p.created_at"
)


ProfileBox = tuple[Profile, uuid.UUID]


def _with_box(sql: str, params: list[object]) -> list[ProfileBox]:
    # raw() converts the model's columns; the extra box_id column arrives as the driver gives it
    # (a UUID from PostgreSQL, 32 hex digits from SQLite).
    rows = Profile.objects.raw(sql, params)
    return [(p, uuid.UUID(str(p.box_id))) for p in rows]  # type: ignore[attr-defined]


def profile_active_in_group(*, group_id: int, profile_id: uuid.UUID) -> ProfileBox | None:
    """The active profile with this id in the group and its permanent box, if it has one."""
    pk = Profile._meta.pk.get_db_prep_value(profile_id, connection)
    rows = _with_box(_BY_ID, [pk, group_id, ProfileState.ACTIVE.value])
    return rows[0] if rows else None


def profiles_of_user(*, group_id: int, userid: str) -> list[ProfileBox]:
    """The user's active profiles in the group whose boxes are open, oldest first."""
    return _with_box(_BY_USERID, [userid, group_id, ProfileState.ACTIVE.value])
