"""Push: a group's providers (secrets write-only), the push outbox, a profile's registration."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from hermod_core.models import PushState
from hermod_core.selectors.console import group_get, profile_get
from hermod_core.selectors.push import push_deliveries_list
from hermod_core.services.push import (
    PushConfigurationError,
    push_registration_remove,
    push_settings_set,
)
from portal.actors import actor_from
from portal.forms.pushes import PushSettingsForm
from portal.rendering import or_404
from portal.roles import console_view
from portal.views.groups import group_detail_page

SHOWN = 500  # pushes listed, newest first


@require_GET
@console_view()
def pushes(request: HttpRequest) -> HttpResponse:
    state = request.GET.get("state", "")
    rows = list(push_deliveries_list(state=state)[:SHOWN])
    return render(
        request,
        "portal/pushes/list.html",
        {"pushes": rows, "state": state, "states": PushState.values},
    )


@require_POST
@console_view(admin=True)
def group_push_save(request: HttpRequest, name: str) -> HttpResponse:
    group = or_404(group_get(name))
    form = PushSettingsForm(request.POST)
    if form.is_valid():
        try:
            push_settings_set(group=group, change=form.change(), actor=actor_from(request))
        except PushConfigurationError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Push settings saved.")
            return redirect("portal:group", name=group.name)
    return group_detail_page(request, group, status=400, push_form=form)


@require_POST
@console_view(admin=True)
def profile_push_remove(request: HttpRequest, profile_id: str) -> HttpResponse:
    profile = or_404(profile_get(profile_id))
    if push_registration_remove(profile=profile, actor=actor_from(request)):
        messages.success(request, "The push registration was removed; the device polls.")
    return redirect("portal:profile", profile_id=profile.pk)
