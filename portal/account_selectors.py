"""Reads for console accounts: the account list an admin manages, invitations, the MFA rule."""

from dataclasses import dataclass

from allauth.mfa.models import Authenticator
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.db.models import Prefetch
from django.utils import timezone

from hermod_core.services.credentials import account_invitation_token_hash
from portal.models import AccountInvitation, ConsoleSecurity, LoginThrottle
from portal.roles import ADMIN_GROUP, OPERATOR_GROUP, Role


@dataclass(frozen=True)
class AccountRow:
    """One console account as the Accounts page shows it."""

    user: AbstractUser
    role: Role | None
    mfa: list[str]  # the kinds of second factor it has: "totp", "webauthn"
    throttled: int  # addresses its name is throttled from


def _role_from_groups(user: AbstractUser, names: set[str]) -> Role | None:
    if user.is_superuser or ADMIN_GROUP in names:
        return Role.ADMIN
    return Role.OPERATOR if OPERATOR_GROUP in names else None


def account_list() -> list[AccountRow]:
    """Every account, with its role, second factors and throttles (four queries)."""
    users = list(
        get_user_model()
        .objects.order_by("username")
        .prefetch_related(Prefetch("groups"), Prefetch("authenticator_set"))
    )
    throttled: dict[str, int] = {}
    for name in LoginThrottle.objects.exclude(username="").values_list("username", flat=True):
        throttled[name] = throttled.get(name, 0) + 1
    rows = []
    for user in users:
        names = {group.name for group in user.groups.all()}
        kinds = sorted(
            {a.type for a in user.authenticator_set.all()}  # type: ignore[attr-defined]
            - {Authenticator.Type.RECOVERY_CODES}
        )
        rows.append(
            AccountRow(
                user=user,
                role=_role_from_groups(user, names),
                mfa=kinds,
                throttled=throttled.get(LoginThrottle.name_of(user.get_username()), 0),
            )
        )
    return rows


def account_get(user_id: int) -> AbstractUser | None:
    user: AbstractUser | None = get_user_model().objects.filter(pk=user_id).first()
    return user


def account_get_by_name(username: str) -> AbstractUser | None:
    user: AbstractUser | None = (
        get_user_model().objects.filter(username__iexact=username.strip()).first()
    )
    return user


def account_invitation_get_by_token(token: str) -> AccountInvitation | None:
    """The invitation a link's token opens, if it is still usable (unused, unrevoked, unexpired)."""
    if not token or len(token) > 100:
        return None
    return AccountInvitation.objects.filter(
        token_hash=account_invitation_token_hash(token),
        used_at=None,
        revoked_at=None,
        expires_at__gt=timezone.now(),
    ).first()


def account_invitations_open(*, limit: int = 100) -> list[AccountInvitation]:
    """Invitations that can still be used, newest first."""
    return list(
        AccountInvitation.objects.filter(
            used_at=None, revoked_at=None, expires_at__gt=timezone.now()
        )[:limit]
    )


def account_invitation_get(invitation_id: int) -> AccountInvitation | None:
    return AccountInvitation.objects.filter(pk=invitation_id).first()


def console_mfa_required() -> bool:
    """Whether every console account must have a second factor (one indexed read)."""
    return ConsoleSecurity.objects.filter(pk=1, require_mfa=True).exists()
