"""Signing in to the console (throttled, audited)."""

from typing import Any

from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse

from hermod_core.proxies import client_address
from portal.forms import ThrottledAuthenticationForm
from portal.services import console_session_record, login_success_reset


class ConsoleLoginView(auth_views.LoginView):
    template_name = "portal/auth/login.html"
    form_class = ThrottledAuthenticationForm
    redirect_authenticated_user = True

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_valid(form)
        user = form.get_user()
        ip = client_address(self.request)
        login_success_reset(username=user.get_username(), ip=ip)
        console_session_record(user=user, ip=ip, action="console.login")
        return response


class ConsoleLogoutView(auth_views.LogoutView):
    """Signs out (POST only) and goes back to the login page; audited like the sign-in."""

    next_page = "portal:login"

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated:
            console_session_record(
                user=request.user, ip=client_address(request), action="console.logout"
            )
        return super().post(request, *args, **kwargs)
