"""Signing in to the console (throttled, audited), and the throttle as admins see it."""

from typing import Any, cast

from allauth.account.internal.flows.login import perform_password_login
from allauth.account.models import Login
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from hermod_core.proxies import client_address
from portal.actors import actor_from
from portal.forms.login import ThrottledAuthenticationForm
from portal.roles import console_view
from portal.selectors import login_throttles_list
from portal.services.login import (
    LOGIN_FREE_FAILURES,
    LOGIN_IP_BLOCK,
    LOGIN_MAX_DELAY,
    LOGIN_MAX_FAILURES_PER_IP,
    LOGIN_WINDOW,
    console_session_record,
    login_failure_record,
    login_refusal_record,
    login_success_reset,
    login_throttle_clear,
)
from portal.sso import PROVIDER_ID


class ConsoleLoginView(auth_views.LoginView):
    template_name = "portal/auth/login.html"
    form_class = ThrottledAuthenticationForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        if settings.HERMOD_OIDC_ISSUER:
            context["sso_name"] = settings.HERMOD_OIDC_NAME
            context["sso_url"] = reverse("openid_connect_login", args=[PROVIDER_ID])
        return context

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        """The password is right: forget this pair's failures and hand over to allauth, which
        asks for the second factor if the account has one, then signs in
        (``portal.signin.ConsoleAccountAdapter.login`` audits ``console.login``)."""
        user = form.get_user()
        login_success_reset(username=user.get_username(), ip=client_address(self.request))
        login = Login(user=user, redirect_url=self.get_success_url())
        response: HttpResponse = perform_password_login(
            self.request, {"username": user.get_username()}, login
        )
        return response

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        """Count and audit what the form refused: an attempt inside its wait, or a failure
        (which may start a wait). The form only decides; the writes are the services'."""
        throttled = cast(ThrottledAuthenticationForm, form)
        if throttled.refusal is not None:
            login_refusal_record(
                username=throttled.attempted_username,
                ip=throttled.ip,
                scope=throttled.refusal.scope,
                wait=throttled.refusal.wait,
            )
        elif throttled.failed:
            login_failure_record(username=throttled.attempted_username, ip=throttled.ip)
        return super().form_invalid(form)


class ConsoleLogoutView(auth_views.LogoutView):
    """Signs out (POST only) and goes back to the login page; audited like the sign-in."""

    next_page = "portal:login"

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated:
            console_session_record(
                user=request.user, ip=client_address(request), action="console.logout"
            )
        return super().post(request, *args, **kwargs)


@require_GET
@console_view(admin=True)
def login_throttles(request: HttpRequest) -> HttpResponse:
    """Admins: the account names and addresses the sign-in throttle is slowing down."""
    context = {
        "throttles": login_throttles_list(),
        "now": timezone.now(),
        "free_failures": LOGIN_FREE_FAILURES,
        "max_delay_minutes": int(LOGIN_MAX_DELAY.total_seconds() // 60),
        "per_address": LOGIN_MAX_FAILURES_PER_IP,
        "window_minutes": int(LOGIN_WINDOW.total_seconds() // 60),
        "block_minutes": int(LOGIN_IP_BLOCK.total_seconds() // 60),
    }
    return render(request, "portal/auth/throttles.html", context)


@require_POST
@console_view(admin=True)
def login_throttle_clear_view(request: HttpRequest, throttle_id: int) -> HttpResponse:
    """Admins: lift one throttle at once (audited)."""
    row = login_throttle_clear(actor=actor_from(request), throttle_id=throttle_id)
    if row is not None:
        who = f"{row.username} from {row.ip}" if row.username else f"address {row.ip}"
        messages.success(request, f"Sign-ins for {who} are no longer throttled.")
    return redirect("portal:login_throttles")
