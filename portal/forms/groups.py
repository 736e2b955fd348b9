"""Forms of the Groups pages: a group's name, trusted keys and signer CAs, CA settings, the
RA identity."""

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from hermod_core.models import ChallengeMode
from hermod_core.services.errors import ServiceError
from hermod_core.services.groups import GROUP_NAME_RULE, group_name_check
from portal.forms.fields import http_url


def _group_name(value: str) -> None:
    try:
        group_name_check(value)
    except ServiceError as exc:
        raise ValidationError(str(exc)) from None


class GroupNameForm(forms.Form):
    """A new group, or a group's new name."""

    name = forms.CharField(
        label="Group name", max_length=100, validators=[_group_name], help_text=GROUP_NAME_RULE
    )


class TrustedKeyForm(forms.Form):
    label = forms.CharField(label="Label", max_length=200, required=False)
    jwk = forms.CharField(
        label="Public JWK", widget=forms.Textarea(attrs={"rows": 5}), max_length=20000
    )


class TrustedSignerCaForm(forms.Form):
    label = forms.CharField(label="Label", max_length=200, required=False)
    certificate = forms.CharField(
        label="CA certificate (PEM or base64 DER)",
        widget=forms.Textarea(attrs={"rows": 5}),
        max_length=70000,
    )


class CaSettingsForm(forms.Form):
    """A group's CA; blank secrets keep the stored ones (they are never shown back)."""

    scep_url = forms.CharField(label="SCEP URL", max_length=500, validators=[http_url])
    enabled = forms.BooleanField(label="Enabled", required=False, initial=True)
    auto_certify = forms.BooleanField(
        label="Auto-certify (send the certificates to the device)", required=False
    )
    challenge_mode = forms.ChoiceField(
        label="Challenge in CSR templates",
        choices=ChallengeMode.choices,
        initial=ChallengeMode.ONE_TIME,
        required=False,
        help_text="one-time: each template gets its own challenge, which the CA checks with "
        "Hermod (hermod-scep-verify or the verify endpoint). static sends the CA's password to "
        "every device: anyone who opens a QR code learns it.",
    )
    challenge_password = forms.CharField(
        label="New static challenge password", max_length=200, required=False
    )
    clear_challenge_password = forms.BooleanField(label="Remove challenge password", required=False)
    ra_key_pem = forms.CharField(
        label="New RA private key (PEM)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=20000,
    )
    ra_certificate_pem = forms.CharField(
        label="New RA certificate (PEM)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=20000,
    )

    def changes(self) -> dict[str, Any]:
        data = self.cleaned_data
        password = "" if data["clear_challenge_password"] else (data["challenge_password"] or None)
        return {
            "scep_url": data["scep_url"],
            "enabled": data["enabled"],
            "auto_certify": data["auto_certify"],
            "challenge_password": password,
            "challenge_mode": data["challenge_mode"] or None,  # absent: keep the stored mode
            "ra_key_pem": data["ra_key_pem"] or None,
            "ra_certificate_pem": data["ra_certificate_pem"] or None,
        }


class RaIdentityForm(forms.Form):
    common_name = forms.CharField(label="Common name", max_length=64, required=False)
