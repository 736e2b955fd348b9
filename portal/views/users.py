"""Users and profiles: search, a profile's device, keys, certificates and commands; ping/delete."""

import uuid

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from hermod_core.models import Profile
from hermod_core.selectors.console import (
    clients_enabled,
    profile_commands,
    profile_device_rows,
    profile_extension_rows,
    profile_get,
    user_get,
    user_search,
)
from hermod_core.selectors.push import (
    push_deliveries_list,
    push_providers,
    push_registration_get,
)
from hermod_core.services.commands import command_issue
from hermod_core.services.profiles import box_token_revoke
from portal.actors import actor_from
from portal.forms.users import ProfileCommandForm
from portal.rendering import PERSON_ERRORS, error_text, or_404, page_or_fragment
from portal.roles import console_view

PUSHES_SHOWN = 10  # the profile's latest pushes


@require_GET
@console_view()
def users(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:255]
    return page_or_fragment(
        request,
        "portal/users/search.html",
        "portal/users/_results.html",
        {"q": query, "users": user_search(query)},
    )


@require_GET
@console_view()
def user_page(request: HttpRequest, group: str, userid: str) -> HttpResponse:
    user = or_404(user_get(group, userid))
    return render(request, "portal/users/user.html", {"end_user": user})


def _profile_page(
    request: HttpRequest, profile: Profile, form: ProfileCommandForm, *, status: int = 200
) -> HttpResponse:
    context = {
        "profile": profile,
        "device_rows": profile_device_rows(profile),
        "extension_rows": profile_extension_rows(profile),
        "commands": profile_commands(profile),
        "form": form,
        "push": push_registration_get(profile),
        "push_relay": "relay" in push_providers(profile.group),
        "pushes": list(push_deliveries_list(profile=profile)[:PUSHES_SHOWN]),
    }
    return render(request, "portal/users/profile.html", context, status=status)


@require_http_methods(["GET", "POST"])
@console_view()
def profile_page(request: HttpRequest, profile_id: uuid.UUID) -> HttpResponse:
    """The profile; a POST issues a ping or delete command for it on behalf of a client."""
    profile = or_404(profile_get(profile_id))
    clients = clients_enabled(group=profile.group)
    if request.method == "GET":
        return _profile_page(request, profile, ProfileCommandForm(clients=clients))
    form = ProfileCommandForm(request.POST, clients=clients)
    if form.is_valid():
        endpoint, body = form.body(str(profile.pk))
        try:
            command = command_issue(
                actor=actor_from(request),
                client=form.cleaned_data["client"],
                endpoint_name=endpoint,
                body=body,
            )
        except PERSON_ERRORS as exc:
            form.add_error(None, error_text(exc))
        else:
            return redirect("portal:command", command_id=command.pk)
    return _profile_page(request, profile, form, status=400)


@require_POST
@console_view(admin=True)
def profile_revoke_box_token(request: HttpRequest, profile_id: uuid.UUID) -> HttpResponse:
    """Revoke the device's box token: it can no longer open its box (audited)."""
    profile = or_404(profile_get(profile_id))
    if box_token_revoke(actor=actor_from(request), profile=profile):
        messages.success(
            request, "The box token is revoked: the device can no longer open its box."
        )
    else:
        messages.info(request, "The profile's box has no token to revoke.")
    return redirect("portal:profile", profile_id=profile.pk)
