"""Reads of profiles that commands are addressed to (docs/PROTOCOL.md §4.1).

The lookups of a profile with its permanent box run for every command created: they are tuned
statements of ``hermod_core.sql``. Each row comes back as a ``Profile`` with the id of its box.
"""

import uuid

from cryptography import x509

from hermod_core import sql
from hermod_core.crypto.digests import b64decode_strict
from hermod_core.models import Profile, ProfileState, TrustedSignerCa

ProfileBox = sql.ProfileBox


def profile_active_in_group(*, group_id: int, profile_id: uuid.UUID) -> ProfileBox | None:
    """The active profile with this id in the group and its permanent box, if it has one."""
    return sql.active_profile_with_box(group_id=group_id, profile_id=profile_id)


def profiles_of_user(*, group_id: int, userid: str) -> list[ProfileBox]:
    """The user's active profiles in the group whose boxes are open, oldest first."""
    return sql.active_profiles_of_user_with_box(group_id=group_id, userid=userid)


def profile_of_smartcard(*, group_id: int, smartcard_id: str) -> ProfileBox | None:
    """The active profile of the smart card ``smartcard_id`` in the group (its newest, if the
    card was provisioned twice) and its permanent box, or None."""
    if not smartcard_id:
        return None
    return sql.active_profile_of_smartcard_with_box(group_id=group_id, smartcard_id=smartcard_id)


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
