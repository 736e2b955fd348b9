"""Console views: authenticate, call one selector or service, render."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from hermod_core.selectors.dashboard import command_counts_by_state


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/dashboard/index.html", {"counts": command_counts_by_state()})
