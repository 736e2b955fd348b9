"""The enrollment portal: an end user opens a one-time link and enrolls a device.

No account: the code in the link is the only credential. Every code that does not open a live
invitation gets a friendly page that says what to do next and nothing about anyone else.
"""

import re
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from portal.models import EnrollmentInvitation
from portal.qr import qr_svg
from portal.rendering import live_fragment
from portal.selectors import (
    LinkState,
    enrollment_status,
    invitation_get_by_code,
    invitation_link_state,
)
from portal.services.invitations import (
    InvitationRenewError,
    invitation_mark_opened,
    invitation_renew,
)


def _context(request: HttpRequest, invitation: EnrollmentInvitation, code: str) -> dict[str, Any]:
    # The app returns to this page once the user confirmed on the same phone.
    page = request.build_absolute_uri(reverse("enroll:page", args=[code]))
    status = enrollment_status(invitation.command, redirect=page)
    link = invitation_link_state(invitation, status)
    return {
        "code": code,
        "status": status,
        "link": link,
        "qr": qr_svg(status.uri) if status.shows_code and link is LinkState.USABLE else "",
        "on_phone": is_phone(request),
    }


def _ended(context: dict[str, Any]) -> bool:
    """Whether the page has nothing more to offer: no code now and none to ask for."""
    link = context["link"]
    if link in {LinkState.REVOKED, LinkState.EXPIRED}:
        return True
    return context["status"].is_final and link is not LinkState.RENEWABLE


# Phones and tablets say so in their user agent (Android, iPhone, iPad, "Mobile"); iPadOS
# claims to be a Mac, which the stylesheet's media query (a touch screen) catches instead.
_PHONE = re.compile(r"Android|iPhone|iPad|iPod|Mobile|Windows Phone", re.IGNORECASE)


def is_phone(request: HttpRequest) -> bool:
    """Whether the page is shown on the phone that would have to scan it."""
    return bool(_PHONE.search(request.META.get("HTTP_USER_AGENT", "")[:512]))


def _unknown(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/enroll/invalid.html", status=404)


@require_GET
@never_cache
def enroll_page(request: HttpRequest, code: str) -> HttpResponse:
    invitation = invitation_get_by_code(code)
    if invitation is None:
        return _unknown(request)
    context = _context(request, invitation, code)
    if _ended(context):
        # A used, withdrawn or expired link: say so, without the QR code or anything else.
        return render(request, "portal/enroll/ended.html", context, status=410)
    invitation_mark_opened(invitation=invitation)
    return render(request, "portal/enroll/page.html", context)


@require_POST
@never_cache
def enroll_renew(request: HttpRequest, code: str) -> HttpResponse:
    """ "Show a new code": the link is still valid but its request was not used in time; a new
    request replaces it (POST, so that a mail scanner fetching the link creates nothing)."""
    invitation = invitation_get_by_code(code)
    if invitation is None:
        return _unknown(request)
    try:
        invitation_renew(invitation=invitation)
    except InvitationRenewError as exc:
        context = {**_context(request, invitation, code), "problem": str(exc)}
        return render(request, "portal/enroll/ended.html", context, status=409)
    return redirect("enroll:page", code=code)


@require_GET
@never_cache
def enroll_status(request: HttpRequest, code: str) -> HttpResponse:
    """The live part of the page, polled every 2 s until the enrollment ends (then 286)."""
    invitation = invitation_get_by_code(code)
    if invitation is None:
        return live_fragment(request, "portal/enroll/_invalid.html", {}, final=True)
    context = _context(request, invitation, code)
    final = context["status"].is_final or context["link"] is not LinkState.USABLE
    return live_fragment(request, "portal/enroll/_status.html", context, final=final)
