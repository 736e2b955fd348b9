"""Forms of the Clients pages: create, rotate, callback and content-provider settings,
import, generateclient."""

from datetime import timedelta

from django import forms
from django.core.exceptions import ValidationError

from hermod_core.models.clients import validate_client_id, validate_client_id_free
from hermod_core.protocol.client_config import CLIENT_ID_MAX, INTEGER_BOUNDS
from portal.forms.fields import (
    GroupChoiceField,
    basic_auth_field,
    url_field,
)


def _client_id_field() -> forms.CharField:
    """The model field's own rule (``validate_client_id``): one home for the client-id rule."""
    return forms.CharField(
        label="Client id", max_length=CLIENT_ID_MAX, validators=[validate_client_id]
    )


def _callback_attempts_field() -> forms.IntegerField:
    """A client's own callback attempts, overriding the server's (docs/PROTOCOL.md §8)."""
    return forms.IntegerField(
        label="Callback attempts (blank: the server's default)",
        min_value=INTEGER_BOUNDS["attempts"][0],
        max_value=INTEGER_BOUNDS["attempts"][1],
        required=False,
    )


def _callback_retry_delay_field() -> forms.IntegerField:
    return forms.IntegerField(
        label="Seconds between callback attempts (blank: the server's default)",
        min_value=INTEGER_BOUNDS["retry_delay"][0],
        max_value=INTEGER_BOUNDS["retry_delay"][1],
        required=False,
    )


class ClientCreateForm(forms.Form):
    client_id = _client_id_field()
    group = GroupChoiceField(
        label="Group",
        help_text="The tenant whose users this client sees. A new group is created on the "
        "Groups page.",
    )
    callback_url = url_field("Callback URL")
    callback_basic_auth = basic_auth_field("Callback basic auth (user:password)")
    callback_signing_secret = forms.CharField(
        label="Callback signing secret", max_length=200, required=False
    )
    callback_attempts = _callback_attempts_field()
    callback_retry_delay = _callback_retry_delay_field()
    content_provider_url = url_field("Content provider URL (POST <url>/getcontent)")
    content_provider_basic_auth = basic_auth_field("Content provider basic auth (user:password)")

    def clean_client_id(self) -> str:
        """Free, as ``client_create`` checks it (one check, one wording)."""
        client_id = str(self.cleaned_data["client_id"])
        validate_client_id_free(client_id)
        return client_id


class ClientRotateForm(forms.Form):
    """How long the replaced key keeps working beside the new one (0: it stops at once)."""

    grace_hours = forms.IntegerField(
        label="Keep the old key valid for (hours)",
        min_value=0,
        max_value=720,
        initial=0,
        required=False,
        help_text="0 (or blank) stops the old key at once. A few hours let the application "
        "server switch to the new key without refused calls; at most 720 (30 days).",
    )

    def grace(self) -> timedelta:
        return timedelta(hours=self.cleaned_data["grace_hours"] or 0)


class ClientCallbackForm(forms.Form):
    """Callback settings; a blank secret keeps the stored one unless "clear" is ticked."""

    callback_url = url_field("Callback URL")
    callback_basic_auth = basic_auth_field("New basic auth (user:password)")
    clear_basic_auth = forms.BooleanField(label="Remove basic auth", required=False)
    callback_signing_secret = forms.CharField(
        label="New signing secret", max_length=200, required=False
    )
    clear_signing_secret = forms.BooleanField(label="Remove signing secret", required=False)

    def secrets(self) -> tuple[str | None, str | None]:
        """(basic auth, signing secret): None keeps the stored value, "" clears it."""
        data = self.cleaned_data
        basic = "" if data["clear_basic_auth"] else (data["callback_basic_auth"] or None)
        secret = "" if data["clear_signing_secret"] else (data["callback_signing_secret"] or None)
        return basic, secret


class ClientContentForm(forms.Form):
    """Content provider (docs/PROTOCOL.md §13) and the client's own callback retry policy; a blank
    basic auth keeps the stored one unless "clear" is ticked, a blank number means the server's
    default."""

    content_provider_url = url_field("Content provider URL (POST <url>/getcontent)")
    content_provider_basic_auth = basic_auth_field(
        "New content provider basic auth (user:password)"
    )
    clear_content_provider_basic_auth = forms.BooleanField(
        label="Remove content provider basic auth", required=False
    )
    callback_attempts = _callback_attempts_field()
    callback_retry_delay = _callback_retry_delay_field()

    def changes(self) -> dict[str, object]:
        """The client settings to store (``services.clients.CLIENT_SETTINGS`` names)."""
        data = self.cleaned_data
        changes: dict[str, object] = {
            "content_provider_url": data["content_provider_url"].strip(),
            "callback_attempts": data["callback_attempts"],
            "callback_retry_delay": data["callback_retry_delay"],
        }
        if data["clear_content_provider_basic_auth"]:
            changes["content_provider_basic_auth"] = ""
        elif data["content_provider_basic_auth"]:
            changes["content_provider_basic_auth"] = data["content_provider_basic_auth"]
        return changes


class ClientImportForm(forms.Form):
    file = forms.FileField(label="Hermod configuration file (YAML)")

    def clean_file(self) -> str:
        upload = self.cleaned_data["file"]
        if upload.size > 1024 * 1024:
            raise ValidationError("The file is larger than 1 MiB.")
        try:
            return str(upload.read().decode("utf-8-sig"))
        except UnicodeDecodeError:
            raise ValidationError("The file is not UTF-8 text.") from None


class GenerateClientForm(forms.Form):
    client_id = _client_id_field()
