"""Issuing a provisioning request: the form, then the QR code and live status (or a link)."""

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from hermod_core.models import Command, CommandType
from hermod_core.selectors.console import clients_enabled, command_get
from hermod_core.services.console import console_command_issue
from portal.actors import actor_from
from portal.forms import BaseKeyRequestFormSet, ProvisionForm, key_requests
from portal.provisioning import provision_body
from portal.qr import qr_svg
from portal.rendering import PERSON_ERRORS, error_text, live_fragment, no_store
from portal.roles import console_view
from portal.selectors import enrollment_status, invitation_list
from portal.services import invitation_create


def _form_page(
    request: HttpRequest, form: ProvisionForm, keys: BaseKeyRequestFormSet, *, status: int = 200
) -> HttpResponse:
    return render(
        request, "portal/provision/form.html", {"form": form, "keys": keys}, status=status
    )


@require_http_methods(["GET", "POST"])
@console_view()
def provision(request: HttpRequest) -> HttpResponse:
    """GET the form; POST ``action=issue`` creates the command and shows its QR code,
    ``action=invite`` creates an enrollment invitation and shows its link once."""
    clients = clients_enabled()
    if request.method == "GET":
        form = ProvisionForm(clients=clients)
        return _form_page(request, form, key_requests())
    form = ProvisionForm(request.POST, clients=clients)
    keys = key_requests(request.POST)
    if form.is_valid() and keys.is_valid():
        spec = form.provision_spec(keys.specs())
        client = form.cleaned_data["client"]
        actor = actor_from(request)
        try:
            if request.POST.get("action") == "invite":
                issued = invitation_create(actor=actor, client=client, spec=spec)
            else:
                command = console_command_issue(
                    actor=actor, client=client, endpoint_name="provision", body=provision_body(spec)
                )
                return redirect("portal:provision_session", command_id=command.pk)
        except PERSON_ERRORS as exc:
            form.add_error(None, error_text(exc))
        else:
            link = request.build_absolute_uri(issued.path)
            return no_store(
                render(
                    request,
                    "portal/invitations/created.html",
                    {"invitation": issued.invitation, "link": link},
                )
            )
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
    return render(request, "portal/invitations/list.html", {"invitations": invitation_list()})
