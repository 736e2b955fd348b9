"""Console accounts: create, give a role, disable, enable, unlock, invite by one-time link, and
the console-wide second-factor rule. The only code that writes accounts; every change is audited.

Roles are the auth groups of ``portal.roles``; an account holds at most one of them. No change
may leave the console without an enabled admin (the last one cannot be disabled or demoted), and
nobody disables their own account: both are traps an admin cannot get out of from the console.
"""

import secrets
from dataclasses import dataclass
from datetime import timedelta

from allauth.mfa.models import Authenticator
from allauth.mfa.utils import is_mfa_enabled
from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.auth.models import AbstractBaseUser, AbstractUser
from django.contrib.auth.models import Group as AuthGroup
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from hermod_core.services.audit import Actor, audit_record
from hermod_core.services.credentials import account_invitation_token_hash
from portal.models import AccountInvitation, ConsoleSecurity, LoginThrottle
from portal.roles import ADMIN_GROUP, OPERATOR_GROUP, Role, role_of

# Set in the session of an account that signed in while a second factor is required and it has
# none: portal.middleware sends it to add one (and drops the mark once it has).
MFA_SETUP_SESSION_KEY = "hermod_mfa_setup_required"
# What counts as a second factor (recovery codes only back one up).
SECOND_FACTORS = [Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN]
ROLE_GROUPS = {Role.ADMIN: ADMIN_GROUP, Role.OPERATOR: OPERATOR_GROUP}
INVITATION_TOKEN_BYTES = 32  # 256 random bits, base64url: 43 characters
INVITATION_DEFAULT_HOURS = 72
INVITATION_MAX_HOURS = 24 * 30


class AccountError(ValueError):
    """A change to an account that is refused; the message says why, for a person."""


def _role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise AccountError(f"Unknown role {value!r}: choose admin or operator.") from None


def _enabled_admins() -> list[int]:
    users = get_user_model().objects.filter(is_active=True)
    admins = users.filter(is_superuser=True) | users.filter(groups__name=ADMIN_GROUP)
    return list(admins.values_list("pk", flat=True).distinct())


def _refuse_losing_last_admin(user: AbstractUser, what: str) -> None:
    if _enabled_admins() == [user.pk]:
        raise AccountError(
            f"{user.get_username()} is the only enabled admin: {what} would leave nobody able "
            "to manage the console. Make another account admin first."
        )


def _set_role(user: AbstractUser, role: Role) -> None:
    groups = {name: AuthGroup.objects.get_or_create(name=name)[0] for name in ROLE_GROUPS.values()}
    user.groups.remove(*groups.values())
    user.groups.add(groups[ROLE_GROUPS[role]])
    if role is Role.OPERATOR and user.is_superuser:
        # A superuser is an admin whatever its groups (portal.roles): demoting means dropping it.
        user.is_superuser = False
        user.is_staff = False
        user.save(update_fields=["is_superuser", "is_staff"])
    if hasattr(user, "_hermod_role"):
        delattr(user, "_hermod_role")  # the per-request memo of portal.roles.role_of


def _check_username(username: str) -> str:
    name = username.strip()
    field = get_user_model()._meta.get_field("username")
    try:
        field.run_validators(name)
    except ValidationError as exc:
        raise AccountError(f"User name {name!r}: {' '.join(exc.messages)}") from None
    if not name:
        raise AccountError("A user name is required.")
    if get_user_model().objects.filter(username__iexact=name).exists():
        raise AccountError(f"An account named {name!r} already exists.")
    return name


def _check_password(password: str, user: AbstractUser) -> None:
    try:
        validate_password(password, user)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise AccountError("Password: " + " ".join(exc.messages)) from None


@transaction.atomic
def account_create(
    *, actor: Actor, username: str, role: str, email: str = "", password: str | None = None
) -> AbstractUser:
    """A new console account with one role. Without a password it cannot sign in until one is
    set (``manage.py changepassword``); the console invites by link instead. Audited as
    ``console.account_created``."""
    chosen = _role(role)
    name = _check_username(username)
    user_model = get_user_model()
    user: AbstractUser = user_model(username=name, email=email.strip())
    if password is None:
        user.set_unusable_password()
    else:
        _check_password(password, user)
        user.set_password(password)
    user.save()
    _set_role(user, chosen)
    audit_record(
        actor=actor,
        action="console.account_created",
        target_type="account",
        target_id=name,
        details={"role": chosen.value},
    )
    return user


@transaction.atomic
def account_role_set(*, actor: Actor, user: AbstractUser, role: str) -> bool:
    """Give the account ``role`` (its only role); False if it had it already. Refused when it
    would demote the last enabled admin. Audited as ``console.account_role``."""
    chosen = _role(role)
    before = role_of(user)
    if before is chosen:
        return False
    if chosen is not Role.ADMIN:
        _refuse_losing_last_admin(user, "making it an operator")
    _set_role(user, chosen)
    audit_record(
        actor=actor,
        action="console.account_role",
        target_type="account",
        target_id=user.get_username(),
        details={"from": before.value if before else None, "to": chosen.value},
    )
    return True


@transaction.atomic
def account_enabled_set(*, actor: Actor, user: AbstractUser, enabled: bool) -> bool:
    """Enable or disable an account; False if it already was. A disabled account cannot sign in
    and its open sessions end at their next request (Django refuses inactive users). Nobody
    disables their own account, nor the last enabled admin. Audited as
    ``console.account_enabled`` / ``console.account_disabled``."""
    if user.is_active == enabled:
        return False
    if not enabled:
        if actor.user is not None and actor.user.pk == user.pk:
            raise AccountError("You cannot disable your own account.")
        _refuse_losing_last_admin(user, "disabling it")
    user.is_active = enabled
    user.save(update_fields=["is_active"])
    audit_record(
        actor=actor,
        action="console.account_enabled" if enabled else "console.account_disabled",
        target_type="account",
        target_id=user.get_username(),
    )
    return True


@transaction.atomic
def account_unlock(*, actor: Actor, user: AbstractUser) -> int:
    """Lift every sign-in throttle on the account's name, from every address; how many were
    lifted. Addresses throttled as a whole (password spraying) stay throttled: clear those on
    the Sign-ins page. Audited as ``console.account_unlocked``."""
    name = LoginThrottle.name_of(user.get_username())
    rows = LoginThrottle.objects.filter(username=name)
    addresses = sorted(rows.values_list("ip", flat=True))
    count, _ = rows.delete()
    audit_record(
        actor=actor,
        action="console.account_unlocked",
        target_type="account",
        target_id=user.get_username(),
        details={"addresses": addresses},
    )
    return count


# --- invitations ------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedAccountInvitation:
    """An invitation and its token, which exists only here: show the link once."""

    invitation: AccountInvitation
    token: str


@transaction.atomic
def account_invitation_create(
    *, actor: Actor, role: str, email: str = "", hours: int = INVITATION_DEFAULT_HOURS
) -> IssuedAccountInvitation:
    """A one-time link to create a console account with ``role``, valid ``hours`` (1 to 720).
    Only the token's keyed hash is stored. Audited as ``console.account_invited``."""
    chosen = _role(role)
    if not 1 <= hours <= INVITATION_MAX_HOURS:
        raise AccountError(f"Lifetime: between 1 and {INVITATION_MAX_HOURS} hours.")
    token = secrets.token_urlsafe(INVITATION_TOKEN_BYTES)
    invitation = AccountInvitation.objects.create(
        token_hash=account_invitation_token_hash(token),
        role=chosen.value,
        email=email.strip(),
        created_by=actor.name,
        expires_at=timezone.now() + timedelta(hours=hours),
    )
    audit_record(
        actor=actor,
        action="console.account_invited",
        target_type="account_invitation",
        target_id=str(invitation.pk),
        details={"role": chosen.value, "email": invitation.email, "hours": hours},
    )
    return IssuedAccountInvitation(invitation=invitation, token=token)


@transaction.atomic
def account_invitation_revoke(*, actor: Actor, invitation: AccountInvitation) -> bool:
    """Kill an unused invitation; False if it was already used or revoked. Audited."""
    now = timezone.now()
    won = AccountInvitation.objects.filter(pk=invitation.pk, used_at=None, revoked_at=None).update(
        revoked_at=now
    )
    if won:
        audit_record(
            actor=actor,
            action="console.account_invitation_revoked",
            target_type="account_invitation",
            target_id=str(invitation.pk),
        )
    return bool(won)


@transaction.atomic
def account_invitation_accept(
    *, invitation: AccountInvitation, username: str, password: str, ip: str
) -> AbstractUser:
    """Create the invited account and spend the invitation, both or neither.

    The invitation is claimed by a conditional UPDATE (``used_at`` still empty, not revoked, not
    expired): of two concurrent acceptances exactly one updates the row and goes on; the other
    is refused. Audited as ``console.account_joined``.
    """
    name = _check_username(username)
    user: AbstractUser = get_user_model()(username=name, email=invitation.email)
    _check_password(password, user)
    now = timezone.now()
    won = AccountInvitation.objects.filter(
        pk=invitation.pk, used_at=None, revoked_at=None, expires_at__gt=now
    ).update(used_at=now)
    if not won:
        raise AccountError("This invitation has expired or was already used.")
    user.set_password(password)
    user.save()
    _set_role(user, Role(invitation.role))
    AccountInvitation.objects.filter(pk=invitation.pk).update(used_by=user)
    audit_record(
        actor=Actor(name=name, user=user, address=ip or None),
        action="console.account_joined",
        target_type="account",
        target_id=name,
        details={"invitation": invitation.pk, "role": invitation.role},
    )
    return user


# --- console-wide second factor ---------------------------------------------------------------


@transaction.atomic
def console_mfa_required_set(*, actor: Actor, required: bool) -> None:
    """Make a second factor mandatory (or optional) for every console account. Refused to an
    admin (in the console) who has none yet: they would be sent to set one up at once. Audited
    as ``console.mfa_required`` / ``console.mfa_optional``."""
    if required and actor.user is not None and not is_mfa_enabled(actor.user, SECOND_FACTORS):
        raise AccountError(
            "Add a second factor to your own account first (Security: authenticator app or "
            "passkey), then require one for everybody."
        )
    row, _ = ConsoleSecurity.objects.select_for_update().get_or_create(pk=1)
    if row.require_mfa == required:
        return
    row.require_mfa = required
    row.updated_by = actor.name
    row.save()
    if required:
        ended = _sessions_without_second_factor_end()
        audit_record(actor=actor, action="console.mfa_required", details={"sessions_ended": ended})
    else:
        audit_record(actor=actor, action="console.mfa_optional")


def _sessions_without_second_factor_end() -> int:
    """End the open console sessions of accounts without a second factor, so that the rule
    holds at once: at their next sign-in they are sent to add one (``MFA_SETUP_SESSION_KEY``).
    Only database sessions (Django's default engine) can be found; how many ended."""
    with_factor = {
        str(user_id)
        for user_id in Authenticator.objects.filter(type__in=SECOND_FACTORS).values_list(
            "user_id", flat=True
        )
    }
    ended = 0
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        user_id = session.get_decoded().get(SESSION_KEY)
        if user_id is not None and str(user_id) not in with_factor:
            session.delete()
            ended += 1
    return ended


def signin_second_factor_failure_record(*, user: AbstractBaseUser, ip: str, method: str) -> None:
    """Audit a sign-in whose password was right but whose second factor was not
    (``console.login_mfa_failed``; ``method`` is ``code`` or ``webauthn``)."""
    name = user.get_username()
    audit_record(
        actor=Actor(name="anonymous", address=ip or None),
        action="console.login_mfa_failed",
        target_type="account",
        target_id=name[:100],
        details={"method": method},
    )


def second_factor_change_record(*, user: AbstractBaseUser, ip: str, change: str, kind: str) -> None:
    """Audit an account adding, removing or renewing a second factor (``console.mfa_added`` …;
    ``kind`` is ``totp``, ``webauthn`` or ``recovery_codes``)."""
    name = user.get_username()
    audit_record(
        actor=Actor(name=name, user=user, address=ip or None),
        action=f"console.mfa_{change}",
        target_type="account",
        target_id=name[:100],
        details={"kind": kind},
    )


@transaction.atomic
def account_second_factors_remove(*, actor: Actor, user: AbstractUser) -> int:
    """Remove every second factor of an account that lost them (TOTP, passkeys, recovery
    codes); how many were removed. If a second factor is required, the account must add a new
    one at its next sign-in. Audited as ``console.mfa_removed_by_admin``."""
    kinds = sorted(set(Authenticator.objects.filter(user=user).values_list("type", flat=True)))
    count: int = Authenticator.objects.filter(user=user).delete()[0]
    audit_record(
        actor=actor,
        action="console.mfa_removed_by_admin",
        target_type="account",
        target_id=user.get_username(),
        details={"kinds": kinds},
    )
    return count


# --- single sign-on ---------------------------------------------------------------------------

SSO_ACTOR = "single sign-on"


@transaction.atomic
def account_sso_role_sync(*, user: AbstractUser, role: str, ip: str, new: bool = False) -> None:
    """Give an account signing in by single sign-on the role its provider's claim maps to, at
    every sign-in (a role taken away at the provider is taken away here). A new account is
    audited as ``console.account_created``, a change as ``console.account_role``, both by
    "single sign-on". Refused (``AccountError``) when it would demote the last enabled admin."""
    actor = Actor(name=SSO_ACTOR, address=ip or None)
    chosen = _role(role)
    if new:
        _set_role(user, chosen)
        audit_record(
            actor=actor,
            action="console.account_created",
            target_type="account",
            target_id=user.get_username(),
            details={"role": chosen.value, "via": "sso"},
        )
        return
    account_role_set(actor=actor, user=user, role=role)


def sso_refusal_record(*, subject: str, ip: str, reason: str) -> None:
    """Audit a single sign-on the console refused (``console.login_sso_refused``), with why."""
    audit_record(
        actor=Actor(name="anonymous", address=ip or None),
        action="console.login_sso_refused",
        target_type="account",
        target_id=subject[:100],
        details={"reason": reason},
    )


def login_disabled_record(*, username: str, ip: str) -> None:
    """Audit a sign-in of a disabled account that its identity provider vouched for
    (``console.login_failed`` with ``reason: disabled``)."""
    audit_record(
        actor=Actor(name="anonymous", address=ip or None),
        action="console.login_failed",
        target_type="account",
        target_id=username[:100],
        details={"reason": "disabled"},
    )
