"""The console sign-in form, throttled per name and address (``portal.services.login``)."""

import math
from datetime import timedelta
from typing import Any

from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from hermod_core.proxies import client_address
from portal.selectors import login_refusal
from portal.services.login import (
    login_failure_record,
    login_refusal_record,
)


def _wait_text(wait: timedelta) -> str:
    seconds = max(1, math.ceil(wait.total_seconds()))
    if seconds < 120:
        return f"{seconds} second{'s' if seconds > 1 else ''}"
    return f"{math.ceil(seconds / 60)} minutes"


class ThrottledAuthenticationForm(AuthenticationForm):
    """Django's sign-in form, making a name that failed from an address wait before it may try
    again from there (``portal.services.login.login_failure_record``).

    An attempt inside its wait is refused before the password is checked, with the same message
    whether the account exists or not, and audited; every failure is counted and audited. The
    address is the client's as ``hermod_core.proxies`` sees it, the same as the API's.
    """

    error_messages = {
        **AuthenticationForm.error_messages,
        "account": "Too many failed sign-ins for this account from your address. "
        "Try again in %(wait)s.",
        "address": "Too many failed sign-ins from your address. Try again in %(wait)s.",
    }

    def clean(self) -> dict[str, Any]:
        username = str(self.cleaned_data.get("username") or "")
        ip = client_address(self.request) if self.request else ""
        refusal = login_refusal(username=username, ip=ip)
        if refusal is not None:
            login_refusal_record(username=username, ip=ip, scope=refusal.scope, wait=refusal.wait)
            raise ValidationError(
                self.error_messages[refusal.scope],
                code="throttled",
                params={"wait": _wait_text(refusal.wait)},
            )
        try:
            return super().clean()
        except ValidationError:
            if username:
                login_failure_record(username=username, ip=ip)
            raise
