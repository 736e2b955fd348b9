"""Console accounts (admins only): list, create, role, disable/enable, unlock, invite by link,
and the rule that every account needs a second factor. The invitation link is public."""

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.models import AbstractUser
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from hermod_core.proxies import client_address
from portal.account_selectors import (
    account_get,
    account_invitation_get,
    account_invitation_get_by_token,
    account_invitations_open,
    account_list,
    console_mfa_required,
)
from portal.actors import actor_from
from portal.forms.accounts import (
    AccountCreateForm,
    AccountInviteForm,
    AccountJoinForm,
    AccountRoleForm,
)
from portal.rendering import or_404
from portal.roles import console_view
from portal.services.accounts import (
    AccountError,
    account_create,
    account_enabled_set,
    account_invitation_accept,
    account_invitation_create,
    account_invitation_revoke,
    account_role_set,
    account_unlock,
    console_mfa_required_set,
)

# The session key that carries a new invitation's link from the POST to the page showing it once.
_NEW_LINK = "hermod_account_invitation_link"


def _page(
    request: HttpRequest,
    *,
    create_form: AccountCreateForm | None = None,
    invite_form: AccountInviteForm | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "accounts": account_list(),
        "invitations": account_invitations_open(),
        "mfa_required": console_mfa_required(),
        "create_form": create_form or AccountCreateForm(),
        "invite_form": invite_form or AccountInviteForm(),
        "role_form": AccountRoleForm(),
    }
    return render(request, "portal/accounts/list.html", context, status=status)


@require_GET
@console_view(admin=True)
def accounts(request: HttpRequest) -> HttpResponse:
    return _page(request)


@require_POST
@console_view(admin=True)
def account_create_view(request: HttpRequest) -> HttpResponse:
    form = AccountCreateForm(request.POST)
    if form.is_valid():
        try:
            user = account_create(
                actor=actor_from(request),
                username=form.cleaned_data["username"],
                role=form.cleaned_data["role"],
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password1"],
            )
        except AccountError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Account {user.get_username()} created.")
            return redirect("portal:accounts")
    return _page(request, create_form=form, status=400)


def _account(user_id: int) -> AbstractUser:
    return or_404(account_get(user_id))


def _account_set(
    request: HttpRequest, user: AbstractUser, word: str, change: Callable[[], bool]
) -> HttpResponse:
    """Runs ``change`` (a service call that says whether anything changed) and tells the admin
    that the account is now ``word``, was already, or why the service refused."""
    name = user.get_username()
    try:
        changed = change()
    except AccountError as exc:
        messages.error(request, str(exc))
    else:
        if changed:
            messages.success(request, f"{name} is now {word}.")
        else:
            messages.info(request, f"{name} is already {word}.")
    return redirect("portal:accounts")


@require_POST
@console_view(admin=True)
def account_role_view(request: HttpRequest, user_id: int) -> HttpResponse:
    user = _account(user_id)
    form = AccountRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a role: admin or operator.")
        return redirect("portal:accounts")
    role = form.cleaned_data["role"]
    return _account_set(
        request,
        user,
        role,
        lambda: account_role_set(actor=actor_from(request), user=user, role=role),
    )


@require_POST
@console_view(admin=True)
def account_enabled_view(request: HttpRequest, user_id: int) -> HttpResponse:
    user = _account(user_id)
    enabled = request.POST.get("enabled") == "1"
    return _account_set(
        request,
        user,
        "enabled" if enabled else "disabled",
        lambda: account_enabled_set(actor=actor_from(request), user=user, enabled=enabled),
    )


@require_POST
@console_view(admin=True)
def account_unlock_view(request: HttpRequest, user_id: int) -> HttpResponse:
    user = _account(user_id)
    count = account_unlock(actor=actor_from(request), user=user)
    messages.success(
        request, f"{user.get_username()}: {count} sign-in throttle(s) lifted; it may sign in now."
    )
    return redirect("portal:accounts")


@require_POST
@console_view(admin=True)
def account_invite_view(request: HttpRequest) -> HttpResponse:
    form = AccountInviteForm(request.POST)
    if not form.is_valid():
        return _page(request, invite_form=form, status=400)
    issued = account_invitation_create(
        actor=actor_from(request),
        role=form.cleaned_data["role"],
        email=form.cleaned_data["email"],
        hours=form.cleaned_data["hours"],
    )
    link = request.build_absolute_uri(reverse("portal:account_join", args=[issued.token]))
    request.session[_NEW_LINK] = {"id": issued.invitation.pk, "link": link}
    return redirect("portal:account_invitation", invitation_id=issued.invitation.pk)


@require_GET
@console_view(admin=True)
def account_invitation_page(request: HttpRequest, invitation_id: int) -> HttpResponse:
    """The invitation; its link only on the first view after creating it (never stored)."""
    invitation = or_404(account_invitation_get(invitation_id))
    shown = request.session.get(_NEW_LINK) or {}
    link = None
    if shown.get("id") == invitation.pk:
        link = shown.get("link")
        del request.session[_NEW_LINK]
    return render(
        request, "portal/accounts/invitation.html", {"invitation": invitation, "link": link}
    )


@require_POST
@console_view(admin=True)
def account_invitation_revoke_view(request: HttpRequest, invitation_id: int) -> HttpResponse:
    invitation = or_404(account_invitation_get(invitation_id))
    if account_invitation_revoke(actor=actor_from(request), invitation=invitation):
        messages.success(request, "The invitation is revoked: its link no longer works.")
    else:
        messages.info(request, "The invitation was already used or revoked.")
    return redirect("portal:accounts")


@require_POST
@console_view(admin=True)
def console_mfa_rule_view(request: HttpRequest) -> HttpResponse:
    required = request.POST.get("require_mfa") == "1"
    try:
        console_mfa_required_set(actor=actor_from(request), required=required)
    except AccountError as exc:
        messages.error(request, str(exc))
    else:
        _rule_message(request, required)
    return redirect("portal:accounts")


def _rule_message(request: HttpRequest, required: bool) -> None:
    if required:
        messages.success(
            request,
            "A second factor is now required: accounts without one are sent to set it up.",
        )
    else:
        messages.success(request, "A second factor is now optional.")


@require_http_methods(["GET", "POST"])
def account_join(request: HttpRequest, token: str) -> HttpResponse:
    """Public: the invitation link. Choose a name and password; the account gets the role the
    admin chose, and signs in through the login page like everyone else."""
    invitation = account_invitation_get_by_token(token)
    if invitation is None:
        return render(request, "portal/accounts/join_invalid.html", status=404)
    form = AccountJoinForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = account_invitation_accept(
                invitation=invitation,
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password1"],
                ip=client_address(request),
            )
        except AccountError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request, f"Account {user.get_username()} created. Sign in with it now."
            )
            return redirect("portal:login")
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "portal/accounts/join.html",
        {"form": form, "invitation": invitation},
        status=status,
    )
