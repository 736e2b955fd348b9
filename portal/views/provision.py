"""Issuing a provisioning request: the form, then the QR code and live status (or a link)."""

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from hermod_core.models import Command, CommandType
from hermod_core.selectors.console import clients_enabled, command_get
from hermod_core.services.commands import command_issue
from hermod_core.services.errors import ServiceError
from portal import shown_once
from portal.actors import actor_from
from portal.forms.provision import (
    BaseKeyRequestFormSet,
    ProvisionForm,
    key_requests,
)
from portal.models import EnrollmentInvitation
from portal.provisioning import provision_body
from portal.qr import qr_svg
from portal.rendering import PERSON_ERRORS, attach_error, live_fragment, no_store, or_404
from portal.roles import console_view
from portal.selectors import (
    enrollment_status,
    invitation_get,
    invitation_list,
    provision_initial,
)
from portal.services.invitations import (
    OnOpen,
    OpenInvitationError,
    invitation_create,
    invitation_resend,
    invitation_revoke,
)

# The invitation buttons: plain, and the two answers to the warning about an open invitation.
_INVITE_ACTIONS: dict[str, OnOpen] = {
    "invite": "refuse",
    "invite-revoke": "revoke",
    "invite-keep": "keep",
}


def _form_page(
    request: HttpRequest,
    form: ProvisionForm,
    keys: BaseKeyRequestFormSet,
    *,
    status: int = 200,
    open_invitations: list[EnrollmentInvitation] | None = None,
) -> HttpResponse:
    context = {"form": form, "keys": keys, "open_invitations": open_invitations or []}
    return render(request, "portal/provision/form.html", context, status=status)


@require_http_methods(["GET", "POST"])
@console_view()
def provision(request: HttpRequest) -> HttpResponse:
    """GET the form (``?from=<command id>``: filled in from an earlier request); POST
    ``action=issue`` creates the command, ``action=invite`` an enrollment invitation, and
    either redirects to its page (a reload creates nothing twice). An invitation for a user
    with an open one is not made until the admin chose to revoke that one or keep both."""
    clients = clients_enabled()
    if request.method == "GET":
        initial, key_initial = provision_initial(request.GET.get("from"))
        form = ProvisionForm(clients=clients, initial=initial)
        return _form_page(request, form, key_requests(initial=key_initial))
    form = ProvisionForm(request.POST, clients=clients)
    keys = key_requests(request.POST)
    if form.is_valid() and keys.is_valid():
        spec = form.provision_spec(keys.specs())
        client = form.cleaned_data["client"]
        actor = actor_from(request)
        try:
            action = request.POST.get("action", "")
            if action in _INVITE_ACTIONS:
                issued = invitation_create(
                    actor=actor,
                    client=client,
                    spec=spec,
                    lifetime=form.invitation_lifetime(),
                    on_open=_INVITE_ACTIONS[action],
                )
                shown_once.stash(request, "invitation-link", issued.invitation.pk, issued.path)
                return redirect("portal:invitation", invitation_id=issued.invitation.pk)
            command = command_issue(
                actor=actor, client=client, endpoint_name="provision", body=provision_body(spec)
            )
            return redirect("portal:provision_session", command_id=command.pk)
        except OpenInvitationError as exc:
            # A question rather than a failure: the same form, asking what to do about it.
            return _form_page(request, form, keys, open_invitations=exc.invitations)
        except PERSON_ERRORS as exc:
            attach_error(form, exc)
    return _form_page(request, form, keys, status=400)


def _prov_or_404(command_id: int) -> Command:
    command = command_get(command_id)
    if command is None or command.command_type != CommandType.PROV:
        raise Http404
    return command


def _session_context(request: HttpRequest, command: Command) -> dict[str, Any]:
    page = request.build_absolute_uri(reverse("portal:provision_session", args=[command.pk]))
    status = enrollment_status(command, redirect=page)
    return {"status": status, "qr": qr_svg(status.uri) if status.shows_code else ""}


@require_GET
@console_view()
def provision_session(request: HttpRequest, command_id: int) -> HttpResponse:
    context = _session_context(request, _prov_or_404(command_id))
    return render(request, "portal/provision/session.html", context)


@require_GET
@console_view()
def provision_status(request: HttpRequest, command_id: int) -> HttpResponse:
    context = _session_context(request, _prov_or_404(command_id))
    return live_fragment(
        request, "portal/provision/_status.html", context, final=context["status"].is_final
    )


@require_GET
@console_view()
def invitations(request: HttpRequest) -> HttpResponse:
    context = {"invitations": invitation_list(), "now": timezone.now()}
    return render(request, "portal/invitations/list.html", context)


@require_GET
@console_view()
def invitation(request: HttpRequest, invitation_id: int) -> HttpResponse:
    """An invitation; its link only on the first view after it was made or re-sent."""
    found = or_404(invitation_get(invitation_id))
    path = shown_once.take(request, "invitation-link", found.pk)
    context = {
        "invitation": found,
        # A link revoked before anyone looked at it is not worth showing.
        "link": request.build_absolute_uri(path) if path and found.revoked_at is None else "",
        "now": timezone.now(),
    }
    return no_store(render(request, "portal/invitations/detail.html", context))


@require_POST
@console_view()
def invitation_revoke_view(request: HttpRequest, invitation_id: int) -> HttpResponse:
    found = or_404(invitation_get(invitation_id))
    if invitation_revoke(actor=actor_from(request), invitation=found):
        messages.success(request, f"The invitation for {found.userid} is revoked.")
    else:
        messages.error(request, "The invitation was revoked already or its enrollment is done.")
    return redirect("portal:invitation", invitation_id=found.pk)


@require_POST
@console_view()
def invitation_resend_view(request: HttpRequest, invitation_id: int) -> HttpResponse:
    found = or_404(invitation_get(invitation_id))
    try:
        issued = invitation_resend(actor=actor_from(request), invitation=found)
    except ServiceError as exc:
        messages.error(request, str(exc))
    else:
        shown_once.stash(request, "invitation-link", found.pk, issued.path)
        messages.success(request, "A new link was made; the previous one no longer works.")
    return redirect("portal:invitation", invitation_id=found.pk)
