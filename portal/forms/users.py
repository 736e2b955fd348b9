"""The form of a user's profile page: a command issued on behalf of a client."""

from typing import Any

from django import forms

from hermod_core.models import Client
from portal.forms.fields import ClientChoiceField


class ProfileCommandForm(forms.Form):
    """Ping or delete a profile on behalf of a client of its group."""

    ACTIONS = (("ping", "Ping (device and profile information)"), ("delete", "Delete"))

    action = forms.ChoiceField(choices=ACTIONS)
    client = ClientChoiceField(queryset=Client.objects.none(), label="On behalf of")
    confirmed = forms.BooleanField(
        label="Wait for the device to confirm the delete", required=False, initial=True
    )

    def __init__(self, *args: Any, clients: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["client"].queryset = clients  # type: ignore[attr-defined]

    def body(self, profile_id: str) -> tuple[str, dict[str, Any]]:
        """The endpoint name and the request body, as an integrator would send them."""
        header = {"to": [profile_id]}
        if self.cleaned_data["action"] == "ping":
            return "ping", {
                "commandHeader": header,
                "pingCommand": {
                    "profileid": profile_id,
                    "deviceinfo": "true",
                    "profileinfo": "true",
                },
            }
        confirmed = "true" if self.cleaned_data["confirmed"] else "false"
        return "delete", {
            "commandHeader": header,
            "deleteCommand": {"profileid": profile_id, "confirmed": confirmed},
        }
