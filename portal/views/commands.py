"""Commands: a filtered, paginated list; a live timeline; cancel."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from hermod_core.selectors.console import command_get, command_list, command_timeline
from hermod_core.services.console import console_command_cancel
from portal.actors import actor_from
from portal.forms import CommandFilterForm
from portal.rendering import live_fragment, or_404, page_or_fragment, paginate
from portal.roles import console_view

PAGE_SIZE = 50


@require_GET
@console_view()
def commands(request: HttpRequest) -> HttpResponse:
    form = CommandFilterForm(request.GET)
    page, query = paginate(request, command_list(form.filters()), PAGE_SIZE)
    return page_or_fragment(
        request,
        "portal/commands/list.html",
        "portal/commands/_table.html",
        {"form": form, "page": page, "query": query},
    )


@require_GET
@console_view()
def command_page(request: HttpRequest, command_id: int) -> HttpResponse:
    timeline = command_timeline(or_404(command_get(command_id)))
    return render(request, "portal/commands/detail.html", {"timeline": timeline})


@require_GET
@console_view()
def command_live(request: HttpRequest, command_id: int) -> HttpResponse:
    """The timeline fragment, polled every 2 s while the command is in progress."""
    timeline = command_timeline(or_404(command_get(command_id)))
    return live_fragment(
        request,
        "portal/commands/_timeline.html",
        {"timeline": timeline},
        final=timeline.command.is_final,
    )


@require_POST
@console_view()
def command_cancel(request: HttpRequest, command_id: int) -> HttpResponse:
    command = or_404(command_get(command_id))
    if console_command_cancel(actor=actor_from(request), command=command):
        messages.success(request, f"Command {command.pk} was cancelled.")
    else:
        messages.error(request, f"Command {command.pk} had already ended.")
    return redirect("portal:command", command_id=command.pk)
