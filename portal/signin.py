"""The console's hooks into django-allauth: who may sign up (nobody), what a completed sign-in
does (audit, throttle reset) and the audit of a failed second factor.

The password step stays the console's own (``portal.views.auth``: throttled per account and
address, audited); allauth runs the stages after it (``mfa_authenticate`` for an account with a
second factor) and calls ``ConsoleAccountAdapter.login`` once every stage has passed.
"""

from collections.abc import Callable
from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.internal.flows.login import get_authentication_records
from allauth.account.internal.flows.reauthentication import get_reauthentication_flows
from allauth.core import context
from allauth.mfa import signals
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.base.forms import AuthenticateForm
from allauth.mfa.utils import is_mfa_enabled
from allauth.mfa.webauthn.forms import AuthenticateWebAuthnForm
from django.contrib import messages
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from hermod_core.proxies import client_address
from hermod_core.services.credentials import seal, unseal
from portal.account_selectors import console_mfa_required
from portal.services.accounts import (
    MFA_SETUP_SESSION_KEY,
    SECOND_FACTORS,
    login_disabled_record,
    second_factor_change_record,
    signin_second_factor_failure_record,
)
from portal.services.login import console_session_record

MFA_SECRET = "mfa-secret"  # noqa: S105 (a purpose, not a secret)


def _method_name(record: dict[str, Any]) -> str:
    """One of allauth's authentication records as the audit names it."""
    method = str(record.get("method", ""))
    if method == "mfa":
        return str(record.get("type", "mfa"))
    return "sso" if method == "socialaccount" else method


class ConsoleAccountAdapter(DefaultAccountAdapter):  # type: ignore[misc]
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False  # accounts are made by admins, or from an admin's invitation

    def login(self, request: HttpRequest, user: AbstractBaseUser) -> None:
        """Every stage passed: sign in, then audit ``console.login`` with how (``via``:
        ``password``, ``sso``, and the second factor, e.g. ``totp``)."""
        via = [_method_name(record) for record in get_authentication_records(request, user)]
        super().login(request, user)
        if console_mfa_required() and not is_mfa_enabled(user, SECOND_FACTORS):
            request.session[MFA_SETUP_SESSION_KEY] = True  # portal.middleware: set one up first
        console_session_record(
            user=user, ip=client_address(request), action="console.login", details={"via": via}
        )

    def is_reauthentication_required(self, *, app: str, **kwargs: Any) -> bool:
        """Adding or removing a factor asks for the password again; an account made by single
        sign-on that has neither a password nor a factor yet has nothing to re-enter (its
        session is fresh from the provider), and would otherwise never get past the question."""
        user = getattr(context.request, "user", None)
        if user is not None and user.is_authenticated and not get_reauthentication_flows(user):
            return False
        required: bool = super().is_reauthentication_required(app=app, **kwargs)
        return required

    def respond_user_inactive(self, request: HttpRequest, user: AbstractBaseUser) -> HttpResponse:
        """A disabled account came through single sign-on (the password form refuses it
        earlier, as a failed sign-in): audited, and back to the login page."""
        login_disabled_record(username=user.get_username(), ip=client_address(request))
        messages.error(request, "This console account is disabled. Ask an admin to enable it.")
        return redirect("portal:login")

    def add_message(self, request: HttpRequest, level: int, *args: Any, **kwargs: Any) -> None:
        # The console shows its own messages; allauth's "Successfully signed in as …" is noise.
        template = kwargs.get("message_template") or (args[0] if args else "")
        if template != "account/messages/logged_in.txt":
            super().add_message(request, level, *args, **kwargs)


class ConsoleMFAAdapter(DefaultMFAAdapter):  # type: ignore[misc]
    def get_public_key_credential_rp_entity(self) -> dict[str, str]:
        entity = super().get_public_key_credential_rp_entity()
        return {**entity, "name": "Hermod console"}

    # The TOTP secret and the recovery-code seed are sealed (Fernet, key derived from the server
    # secret) rather than stored in the clear, which is allauth's default.
    def encrypt(self, text: str) -> str:
        return seal(MFA_SECRET, text)

    def decrypt(self, encrypted_text: str) -> str:
        return unseal(MFA_SECRET, encrypted_text)


def _audit_change(change: str) -> Callable[..., None]:
    def receiver(sender: Any, request: HttpRequest, user: AbstractBaseUser, **kwargs: Any) -> None:
        authenticator = kwargs["authenticator"]
        if change == "added":
            request.session.pop(MFA_SETUP_SESSION_KEY, None)
        second_factor_change_record(
            user=user, ip=client_address(request), change=change, kind=str(authenticator.type)
        )

    return receiver


# allauth tells of these changes only by signal; each writes one audit row (kept referenced).
_RECEIVERS = {
    signals.authenticator_added: _audit_change("added"),
    signals.authenticator_removed: _audit_change("removed"),
    signals.authenticator_reset: _audit_change("reset"),
}


def connect_second_factor_audit() -> None:
    for signal, receiver in _RECEIVERS.items():
        signal.connect(receiver, dispatch_uid=f"hermod-mfa-audit-{id(signal)}")


class _AuditedFailure:
    """Mixin for allauth's second-factor forms: a failed attempt is written to the audit log."""

    method = ""
    user: AbstractBaseUser

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean()  # type: ignore[misc]
        if self.errors:  # type: ignore[attr-defined]
            request = context.request
            signin_second_factor_failure_record(
                user=self.user, ip=client_address(request), method=self.method
            )
        return data


class AuditedAuthenticateForm(_AuditedFailure, AuthenticateForm):  # type: ignore[misc]
    method = "code"  # a TOTP or a recovery code


class AuditedWebAuthnAuthenticateForm(_AuditedFailure, AuthenticateWebAuthnForm):  # type: ignore[misc]
    method = "webauthn"
