"""Callback deliveries in trouble: failing or exhausted, and resending them."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from hermod_core.selectors.console import (
    callback_get,
    callback_problems,
    callbacks_exhausted_count,
)
from hermod_core.services import callbacks as callback_services
from portal.actors import actor_from
from portal.rendering import or_404
from portal.roles import console_view

SHOWN = 500  # deliveries listed, newest first


@require_GET
@console_view()
def callbacks(request: HttpRequest) -> HttpResponse:
    deliveries = list(callback_problems()[:SHOWN])
    # All of them, not only those shown: "Resend all" resends every exhausted delivery.
    exhausted = callbacks_exhausted_count()
    return render(
        request, "portal/callbacks/list.html", {"deliveries": deliveries, "exhausted": exhausted}
    )


@require_POST
@console_view()
def callback_resend(request: HttpRequest, delivery_id: int) -> HttpResponse:
    delivery = or_404(callback_get(delivery_id))
    callback_services.callback_resend(delivery=delivery, actor=actor_from(request))
    messages.success(request, f"Callback {delivery.event_id} will be sent again.")
    return redirect("portal:callbacks")


@require_POST
@console_view()
def callback_resend_all(request: HttpRequest) -> HttpResponse:
    count = callback_services.callbacks_resend_exhausted(actor=actor_from(request))
    messages.success(request, f"{count} exhausted callback(s) will be sent again.")
    return redirect("portal:callbacks")
