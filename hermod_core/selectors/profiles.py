"""Reads of profiles that commands are addressed to (docs/PROTOCOL.md §4.1).

Hand-written SQL: these run for every command created, and Django spends several times the round
trip's CPU compiling the ORM form of a join (README "Performance"). Each row comes back as a
``Profile`` instance (through ``raw()``) with the id of its permanent box.
"""

import uuid

from cryptography import x509
from django.db import connection

from hermod_core.crypto.digests import b64decode_strict
from hermod_core.models import Profile, ProfileState, TrustedSignerCa

_SELECT = (
    "SELECT p.*, m.id AS box_id FROM hermod_profile p JOIN hermod_mailbox m ON m.profile_id = p.id "
)
_BY_ID = _SELECT + "WHERE p.id = %s AND p.group_id = %s AND p.state = %s"
_BY_USERID = (
    _SELECT + "JOIN hermod_user u ON u.id = p.user_id "
    "WHERE u.userid = %s AND p.group_id = %s AND p.state = %s AND m.closed_at IS NULL "
    "ORDER BY p.created_at"
)

# The newest active profile of a smart card whose box is open: a card re-provisioned without
# deleting its old profile first is addressed as its newest profile (decided).
_BY_SMARTCARD = (
    _SELECT + "WHERE p.smartcard_id = %s AND p.group_id = %s AND p.state = %s "
    "AND m.closed_at IS NULL ORDER BY p.created_at DESC LIMIT 1"
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


def profile_of_smartcard(*, group_id: int, smartcard_id: str) -> ProfileBox | None:
    """The active profile of the smart card ``smartcard_id`` in the group (its newest, if the
    card was provisioned twice) and its permanent box, or None."""
    if not smartcard_id:
        return None
    rows = _with_box(_BY_SMARTCARD, [smartcard_id, group_id, ProfileState.ACTIVE.value])
    return rows[0] if rows else None


def profile_with_active_key(*, group_id: int, thumbprint: str) -> Profile | None:
    """The newest active profile of the group with an active key of this RFC 7638 thumbprint
    (the signer of a profile-less answer, docs/PROTOCOL.md §6.3), with its user; or None."""
    if not thumbprint:
        return None
    return (
        Profile.objects.filter(
            group_id=group_id,
            state=ProfileState.ACTIVE,
            keys__thumbprint=thumbprint,
            keys__keystate="ACTIVE",
        )
        .select_related("user")
        .order_by("-created_at")
        .first()
    )


def signer_cas_of_group(*, group_id: int) -> list[x509.Certificate]:
    """The CA certificates the group trusts for signers of profile-less answers (stored after
    parsing, ``services.signer_cas``)."""
    return [
        x509.load_der_x509_certificate(b64decode_strict(der_b64))
        for der_b64 in TrustedSignerCa.objects.filter(group_id=group_id).values_list(
            "der_b64", flat=True
        )
    ]
