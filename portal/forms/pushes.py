"""The push settings form of a group."""

from django import forms

from hermod_core.models import (
    GroupPushSettings,
    RelayAuth,
)
from hermod_core.services.push import PushSettingsChange


def _secret_text(label: str) -> forms.CharField:
    """A pasted secret (a key file's text): optional, never filled in from the stored value."""
    return forms.CharField(
        label=label,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "off"}),
        max_length=20000,
    )


class PushSettingsForm(forms.Form):
    """A group's push providers (docs/push.md); secrets are write-only: blank keeps the stored
    one, the "remove" boxes delete it."""

    requestor = forms.CharField(
        label="Requestor shown on the phone",
        max_length=100,
        required=False,
        help_text="Blank: the client id of the command.",
    )
    relay_url = forms.CharField(
        label="Relay: notification server URL", max_length=500, required=False
    )
    relay_auth = forms.ChoiceField(label="Relay auth", choices=RelayAuth.choices)
    relay_credential = forms.CharField(
        label="New relay credential (user:password or bearer token)",
        max_length=2000,
        required=False,
        widget=forms.PasswordInput(render_value=False),
    )
    webpush_enabled = forms.BooleanField(label="Web Push / UnifiedPush", required=False)
    vapid_subject = forms.CharField(
        label="VAPID subject (mailto: or https:)", max_length=200, required=False
    )
    vapid_rotate = forms.BooleanField(label="New VAPID keys", required=False)
    fcm_service_account = _secret_text("New FCM service-account JSON")
    clear_fcm = forms.BooleanField(label="Remove the FCM service account", required=False)
    apns_key = _secret_text("New APNs key (.p8)")
    clear_apns = forms.BooleanField(label="Remove the APNs key", required=False)
    apns_key_id = forms.CharField(label="APNs key id", max_length=20, required=False)
    apns_team_id = forms.CharField(label="APNs team id", max_length=20, required=False)
    apns_topic = forms.CharField(label="APNs topic (bundle id)", max_length=200, required=False)
    apns_sandbox = forms.BooleanField(label="APNs sandbox (development builds)", required=False)

    @classmethod
    def for_settings(cls, config: GroupPushSettings | None) -> "PushSettingsForm":
        if config is None:
            return cls()
        names = ["requestor", "relay_url", "relay_auth", "webpush_enabled", "vapid_subject"]
        names += ["apns_key_id", "apns_team_id", "apns_topic", "apns_sandbox"]
        return cls(initial={name: getattr(config, name) for name in names})

    def change(self) -> PushSettingsChange:
        data = self.cleaned_data
        return PushSettingsChange(
            requestor=data["requestor"],
            relay_url=data["relay_url"],
            relay_auth=data["relay_auth"],
            relay_credential=data["relay_credential"] or None,
            webpush_enabled=data["webpush_enabled"],
            vapid_subject=data["vapid_subject"],
            vapid_rotate=data["vapid_rotate"],
            fcm_service_account="" if data["clear_fcm"] else data["fcm_service_account"] or None,
            apns_key="" if data["clear_apns"] else data["apns_key"] or None,
            apns_key_id=data["apns_key_id"],
            apns_team_id=data["apns_team_id"],
            apns_topic=data["apns_topic"],
            apns_sandbox=data["apns_sandbox"],
        )
