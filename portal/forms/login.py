"""The console sign-in form, throttled per name and address (``portal.services.login``)."""

import math
from datetime import timedelta
from typing import Any

from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from hermod_core.proxies import client_address
from portal.selectors import LoginRefusal, login_refusal


def _wait_text(wait: timedelta) -> str:
    seconds = max(1, math.ceil(wait.total_seconds()))
    if seconds < 120:
        return f"{seconds} second{'s' if seconds > 1 else ''}"
    return f"{math.ceil(seconds / 60)} minutes"


class ThrottledAuthenticationForm(AuthenticationForm):
    """Django's sign-in form, making a name that failed from an address wait before it may try
    again from there (``portal.services.login.login_failure_record``).

    An attempt inside its wait is refused before the password is checked, with the same message
    whether the account exists or not. The address is the client's as ``hermod_core.proxies``
    sees it, the same as the API's. ``clean()`` only reads: it leaves ``refusal`` (refused
    inside a wait) or ``failed`` (a wrong password or an inactive account) for the view,
    which counts and audits them (``ConsoleLoginView.form_invalid``).
    """

    error_messages = {
        **AuthenticationForm.error_messages,
        "account": "Too many failed sign-ins for this account from your address. "
        "Try again in %(wait)s.",
        "address": "Too many failed sign-ins from your address. Try again in %(wait)s.",
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.attempted_username = ""
        self.ip = ""
        self.refusal: LoginRefusal | None = None
        self.failed = False

    def clean(self) -> dict[str, Any]:
        self.attempted_username = username = str(self.cleaned_data.get("username") or "")
        self.ip = client_address(self.request) if self.request else ""
        self.refusal = login_refusal(username=username, ip=self.ip)
        if self.refusal is not None:
            raise ValidationError(
                self.error_messages[self.refusal.scope],
                code="throttled",
                params={"wait": _wait_text(self.refusal.wait)},
            )
        try:
            return super().clean()
        except ValidationError:
            self.failed = bool(username)
            raise
