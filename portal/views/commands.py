"""Commands: a filtered, paginated list; a live timeline; cancel."""

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from hermod_core.protocol.readable import readable
from hermod_core.selectors.console import (
    CommandTimeline,
    command_get,
    command_list,
    command_timeline,
)
from hermod_core.services.commands import command_cancel_by
from portal.actors import actor_from
from portal.forms.commands import CommandFilterForm
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


def _context(timeline: CommandTimeline) -> dict[str, Any]:
    """The timeline, and the body beside the device's answer: decoded (JWS header and payload,
    certificates and CSRs summarised) and as received, secrets masked in all of them."""
    answer = timeline.command.answer
    return {
        "timeline": timeline,
        "body_shown": readable(timeline.body),
        "answer_shown": readable(answer) if answer else None,
        "answer_raw": readable(answer, decode=False) if answer else None,
    }


@require_GET
@console_view()
def command_page(request: HttpRequest, command_id: int) -> HttpResponse:
    timeline = command_timeline(or_404(command_get(command_id)))
    return render(request, "portal/commands/detail.html", _context(timeline))


@require_GET
@console_view()
def command_live(request: HttpRequest, command_id: int) -> HttpResponse:
    """The timeline fragment (with the answer, out of band, once there is one), polled every
    2 s until nothing more will change: the command is final and its callback delivered,
    exhausted or skipped."""
    timeline = command_timeline(or_404(command_get(command_id)))
    return live_fragment(
        request, "portal/commands/_live.html", _context(timeline), final=timeline.settled
    )


@require_POST
@console_view()
def command_cancel(request: HttpRequest, command_id: int) -> HttpResponse:
    command = or_404(command_get(command_id))
    if command_cancel_by(actor=actor_from(request), command=command):
        messages.success(request, f"Command {command.pk} was cancelled.")
    else:
        messages.error(request, f"Command {command.pk} had already ended.")
    return redirect("portal:command", command_id=command.pk)
