"""Console forms: they parse and check input; services do the work."""

import math
from datetime import timedelta
from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from hermod_core.models import (
    ChallengeMode,
    Client,
    CommandState,
    CommandType,
    Group,
    GroupPushSettings,
    RelayAuth,
)
from hermod_core.models.clients import validate_client_id
from hermod_core.protocol.client_config import CLIENT_ID_MAX, is_http_url
from hermod_core.protocol.commands import (
    BOOLEAN_EXTENSIONS,
    EC_MECHANISM,
    KEY_SIZES,
    KEYSTATES,
    MAX_SECONDS,
    MECHANISMS,
    PROTECTION_LEVELS,
    PROVISIONREADER,
    STORAGES,
    USAGES,
)
from hermod_core.protocol.fields import HEX48
from hermod_core.proxies import client_address
from hermod_core.selectors.console import AuditFilters, CommandFilters
from hermod_core.services.console import ConsoleError
from hermod_core.services.groups import GROUP_NAME_RULE, group_name_check
from hermod_core.services.push import PushSettingsChange
from portal.guidance import FIELD_HELP, help_texts_apply
from portal.provisioning import (
    SUBJECT_FIELDS,
    USERID_PLACEHOLDER,
    KeySpec,
    ProvisionSpec,
)
from portal.selectors import login_refusal
from portal.services.login import (
    login_failure_record,
    login_refusal_record,
)

MAX_INVITATION_HOURS = 24 * 90


# --- sign-in ----------------------------------------------------------------------------------


def _wait_text(wait: timedelta) -> str:
    seconds = max(1, math.ceil(wait.total_seconds()))
    if seconds < 120:
        return f"{seconds} second{'s' if seconds > 1 else ''}"
    return f"{math.ceil(seconds / 60)} minutes"


def _callback_attempts_field() -> forms.IntegerField:
    """A client's own callback attempts, overriding the server's (docs/PROTOCOL.md §8)."""
    return forms.IntegerField(
        label="Callback attempts (blank: the server's default)",
        min_value=1,
        max_value=100,
        required=False,
    )


def _callback_retry_delay_field() -> forms.IntegerField:
    return forms.IntegerField(
        label="Seconds between callback attempts (blank: the server's default)",
        min_value=1,
        max_value=86400,
        required=False,
    )


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


# --- clients and groups -----------------------------------------------------------------------


def _client_id_field() -> forms.CharField:
    """The model field's own rule (``validate_client_id``): one home for the client-id rule."""
    return forms.CharField(
        label="Client id", max_length=CLIENT_ID_MAX, validators=[validate_client_id]
    )


def _http_url(value: str) -> None:
    if value and not is_http_url(value.strip()):
        raise ValidationError(
            "Enter an absolute http or https URL, e.g. https://idm.example.com/hermod."
        )


def _basic_auth(value: str) -> None:
    if value and ":" not in value:
        raise ValidationError("Write it user:password (a colon between the two).")


def _url_field(label: str) -> forms.CharField:
    return forms.CharField(label=label, max_length=500, required=False, validators=[_http_url])


def _basic_auth_field(label: str) -> forms.CharField:
    return forms.CharField(label=label, max_length=300, required=False, validators=[_basic_auth])


def _group_name(value: str) -> None:
    try:
        group_name_check(value)
    except ConsoleError as exc:
        raise ValidationError(str(exc)) from None


class GroupChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    """An existing group, chosen from a list: a typo cannot create a tenant."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            queryset=Group.objects.order_by("name"),
            to_field_name="name",
            error_messages={
                "invalid_choice": "Choose one of the listed groups; create a new group on the "
                "Groups page first."
            },
            **kwargs,
        )


class GroupNameForm(forms.Form):
    """A new group, or a group's new name."""

    name = forms.CharField(
        label="Group name", max_length=100, validators=[_group_name], help_text=GROUP_NAME_RULE
    )


class ClientCreateForm(forms.Form):
    client_id = _client_id_field()
    group = GroupChoiceField(
        label="Group",
        help_text="The tenant whose users this client sees. A new group is created on the "
        "Groups page.",
    )
    callback_url = _url_field("Callback URL")
    callback_basic_auth = _basic_auth_field("Callback basic auth (user:password)")
    callback_signing_secret = forms.CharField(
        label="Callback signing secret", max_length=200, required=False
    )
    callback_attempts = _callback_attempts_field()
    callback_retry_delay = _callback_retry_delay_field()
    content_provider_url = _url_field("Content provider URL (POST <url>/getcontent)")
    content_provider_basic_auth = _basic_auth_field("Content provider basic auth (user:password)")

    def clean_client_id(self) -> str:
        client_id = self.cleaned_data["client_id"]
        if Client.objects.filter(client_id=client_id).exists():
            raise ValidationError("A client with this id exists already.")
        return str(client_id)


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

    callback_url = _url_field("Callback URL")
    callback_basic_auth = _basic_auth_field("New basic auth (user:password)")
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

    content_provider_url = _url_field("Content provider URL (POST <url>/getcontent)")
    content_provider_basic_auth = _basic_auth_field(
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

    scep_url = forms.CharField(label="SCEP URL", max_length=500, validators=[_http_url])
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


# --- users, profiles and commands -------------------------------------------------------------


class ClientChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Client) -> str:
        return f"{obj.client_id} (group {obj.group.name})"


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


def _blank(choices: Any) -> list[tuple[str, str]]:
    return [("", "any"), *[(value, value) for value in choices]]


def _datetime_local() -> forms.DateTimeField:
    return forms.DateTimeField(
        required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )


class CommandFilterForm(forms.Form):
    type = forms.ChoiceField(choices=_blank(CommandType.values), required=False)
    state = forms.ChoiceField(choices=_blank(CommandState.values), required=False)
    client = forms.CharField(max_length=100, required=False)
    user = forms.CharField(max_length=255, required=False)
    created_from = _datetime_local()
    created_to = _datetime_local()

    def filters(self) -> CommandFilters:
        """The list's filters; an invalid query filters nothing (the form shows why)."""
        if not self.is_valid():
            return CommandFilters()
        data = self.cleaned_data
        return CommandFilters(
            command_type=data["type"],
            state=data["state"],
            client_id=data["client"],
            userid=data["user"],
            created_from=data["created_from"],
            created_to=data["created_to"],
        )


class AuditFilterForm(forms.Form):
    actor = forms.CharField(max_length=200, required=False)
    action = forms.CharField(max_length=100, required=False)
    target = forms.CharField(max_length=100, required=False)
    group = forms.ChoiceField(choices=[("", "any")], required=False)
    since = _datetime_local()
    until = _datetime_local()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Chosen from the groups that exist, like everywhere else a group is asked for.
        names = Group.objects.order_by("name").values_list("name", flat=True)
        self.fields["group"].choices = [("", "any"), *[(name, name) for name in names]]  # type: ignore[attr-defined]

    def filters(self) -> AuditFilters:
        """The log's filters (the fields are named as in ``AuditFilters``); an invalid query
        filters nothing."""
        return AuditFilters(**self.cleaned_data) if self.is_valid() else AuditFilters()


# --- provisioning -----------------------------------------------------------------------------

# The protocol's key sizes and mechanisms (protocol.commands), as the form offers them.
KEY_TYPES = [
    (f"{kind}-{size}", f"RSA {size}" if kind == "RSA" else f"EC P-{size}")
    for kind, sizes in KEY_SIZES.items()
    for size in sizes
]


class KeyRequestForm(forms.Form):
    """One key request; a row without a key id is left out."""

    keyid = forms.CharField(label="Key id", max_length=100, required=False)
    usage = forms.ChoiceField(label="Usage", choices=[(u, u) for u in USAGES], required=False)
    keytype = forms.ChoiceField(label="Key type", choices=KEY_TYPES, required=False)
    mechanism = forms.ChoiceField(
        label="Response mechanism",
        choices=[(m, m) for kind in MECHANISMS.values() for m in kind],
        required=False,
    )
    storages = forms.CharField(
        label="Storage priorities",
        max_length=40,
        required=False,
        initial="APP",
        help_text="In order, comma-separated: " + ", ".join(STORAGES),
    )
    keystate = forms.ChoiceField(
        label="Key state", choices=[(s, s) for s in KEYSTATES], required=False
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("keyid"):
            return data
        keytype, length = str(data.get("keytype") or "RSA-2048").split("-")
        mechanism = data.get("mechanism") or ("RS256" if keytype == "RSA" else "")
        if keytype == "EC":
            mechanism = EC_MECHANISM[int(length)]
        elif not mechanism.startswith(("RS", "PS")):
            self.add_error("mechanism", "An RSA key answers with RS256/384/512 or PS256.")
        storages = [s.strip().upper() for s in str(data.get("storages") or "APP").split(",")]
        storages = [s for s in storages if s]
        if not storages or any(s not in STORAGES for s in storages):
            self.add_error("storages", f"Use {', '.join(STORAGES)}, comma-separated.")
        data["spec"] = KeySpec(
            keyid=data["keyid"],
            usage=data.get("usage") or "SIG",
            keytype=keytype,
            keylength=int(length),
            mechanism=mechanism,
            storages=tuple(storages),
            keystate=data.get("keystate") or "ACTIVE",
        )
        return data


class BaseKeyRequestFormSet(forms.BaseFormSet):  # type: ignore[type-arg]
    def clean(self) -> None:
        if any(self.errors):
            return
        keyids = [
            form.cleaned_data["keyid"] for form in self.forms if form.cleaned_data.get("keyid")
        ]
        if not keyids:
            raise ValidationError("Add at least one key request.")
        if len(keyids) > 8:
            raise ValidationError("At most 8 key requests.")
        if len(set(keyids)) != len(keyids):
            raise ValidationError("Each key request needs its own key id.")

    def specs(self) -> tuple[KeySpec, ...]:
        return tuple(
            form.cleaned_data["spec"] for form in self.forms if "spec" in form.cleaned_data
        )


_KeyRequestFormSet = forms.formset_factory(
    KeyRequestForm, formset=BaseKeyRequestFormSet, extra=2, max_num=8, absolute_max=8
)
KEY_REQUEST_INITIAL = [
    {
        "keyid": "signer",
        "usage": "SIG",
        "keytype": "RSA-2048",
        "mechanism": "RS256",
        "storages": "APP",
    }
]


def key_requests(
    data: Any = None, *, initial: list[dict[str, str]] | None = None
) -> BaseKeyRequestFormSet:
    """The key-request rows of a provisioning form: one filled in (or ``initial``'s, from an
    earlier request), two empty, at most eight."""
    if data is None:
        return cast(
            BaseKeyRequestFormSet,
            _KeyRequestFormSet(prefix="keys", initial=initial or KEY_REQUEST_INITIAL),
        )
    return cast(BaseKeyRequestFormSet, _KeyRequestFormSet(data, prefix="keys"))


def _flag_choices() -> list[tuple[str, str]]:
    return [("", "not sent"), ("true", "true"), ("false", "false")]


class ProvisionTemplateForm(forms.Form):
    """What every provisioning request of a form shares (all but the user id)."""

    client = ClientChoiceField(
        queryset=Client.objects.none(),
        label="On behalf of client",
        help_text="The command is created for this client; its callbacks go there.",
    )
    profile_name = forms.CharField(label="Profile name", max_length=255)
    servername = forms.CharField(label="Server name", max_length=255)
    lifespan = forms.IntegerField(
        label="Lifespan (s)",
        min_value=1,
        max_value=MAX_SECONDS,
        initial=300,
        help_text="How long the QR code or link can be opened.",
    )
    timeout = forms.IntegerField(
        label="Timeout (s)",
        min_value=1,
        max_value=MAX_SECONDS,
        initial=300,
        help_text="When the request ends if not done; at most 86400 (a day).",
    )
    external_id = forms.CharField(label="External id", max_length=255, required=False)
    smartcardid = forms.CharField(label="vscinfo: smartcardid", max_length=255, required=False)
    adminkey = forms.CharField(label="vscinfo: adminkey", max_length=48, required=False)
    oldadminkey = forms.CharField(label="vscinfo: oldadminkey", max_length=48, required=False)
    provisionreader = forms.CharField(
        label="provisionreader",
        max_length=20,
        required=False,
        help_text="CreateTPM, FreeTPM or <n>TPM",
    )
    congratsmessage = forms.CharField(
        label="congratsmessage",
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    protection_level = forms.ChoiceField(
        label="desktopKeyProtectionLevel",
        choices=[("", "not sent"), *[(p, p) for p in PROTECTION_LEVELS]],
        required=False,
    )

    invitation_hours = forms.IntegerField(
        label="Enrollment link valid for (hours)",
        min_value=1,
        max_value=MAX_INVITATION_HOURS,
        required=False,
        help_text="How long an enrollment link works, 1 to 2160 hours (90 days); blank: the "
        "server's default. Its QR code lives only the lifespan below: a user who opens the link "
        "later gets a new code from it.",
    )

    def __init__(self, *args: Any, clients: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["client"].queryset = clients  # type: ignore[attr-defined]
        self.fields["invitation_hours"].widget.attrs["placeholder"] = str(
            settings.HERMOD_INVITATION_LIFETIME_HOURS
        )
        for name in SUBJECT_FIELDS:
            self.fields[f"subject_{name}"] = forms.CharField(
                label=name,
                max_length=2 if name == "C" else 255,
                required=False,
                initial=USERID_PLACEHOLDER if name == "CN" else "",
            )
        for name in BOOLEAN_EXTENSIONS:
            self.fields[f"flag_{name}"] = forms.ChoiceField(
                label=name, choices=_flag_choices(), required=False
            )
        help_texts_apply(self, FIELD_HELP)
        self.has_clients = clients.exists()

    def subject_fields(self) -> list[forms.BoundField]:
        return [self[f"subject_{name}"] for name in SUBJECT_FIELDS]

    def flag_fields(self) -> list[forms.BoundField]:
        return [self[f"flag_{name}"] for name in BOOLEAN_EXTENSIONS]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name in ("adminkey", "oldadminkey"):
            if data.get(name) and not HEX48.fullmatch(data[name]):
                self.add_error(name, "48 lowercase hexadecimal characters.")
        if data.get("provisionreader") and not PROVISIONREADER.fullmatch(data["provisionreader"]):
            self.add_error("provisionreader", "CreateTPM, FreeTPM or <n>TPM.")
        lifespan, timeout = data.get("lifespan"), data.get("timeout")
        if lifespan and timeout and timeout < lifespan:
            self.add_error("timeout", "The timeout must be at least the lifespan.")
        if not any(data.get(f"subject_{name}") for name in SUBJECT_FIELDS):
            raise ValidationError("Give the certificate subject at least one attribute.")
        return data

    def invitation_lifetime(self) -> timedelta | None:
        """The enrollment links' lifetime chosen here, or None for the server's default."""
        hours = self.cleaned_data.get("invitation_hours")
        return timedelta(hours=hours) if hours else None

    def spec(self, keys: tuple[KeySpec, ...], userid: str = "") -> ProvisionSpec:
        data = self.cleaned_data
        return ProvisionSpec(
            userid=userid,
            profile_name=data["profile_name"],
            servername=data["servername"],
            subject=tuple(
                (name, data[f"subject_{name}"])
                for name in SUBJECT_FIELDS
                if data.get(f"subject_{name}")
            ),
            keys=keys,
            lifespan=data["lifespan"],
            timeout=data["timeout"],
            external_id=data["external_id"],
            smartcardid=data["smartcardid"],
            adminkey=data["adminkey"],
            oldadminkey=data["oldadminkey"],
            provisionreader=data["provisionreader"],
            flags=tuple(
                (name, data[f"flag_{name}"])
                for name in BOOLEAN_EXTENSIONS
                if data.get(f"flag_{name}")
            ),
            congratsmessage=data["congratsmessage"],
            protection_level=data["protection_level"],
        )


class ProvisionForm(ProvisionTemplateForm):
    """One provisioning request: shown as a QR code now, or sent as an enrollment link."""

    userid = forms.CharField(label="User id", max_length=255)

    field_order = ["client", "userid"]

    def provision_spec(self, keys: tuple[KeySpec, ...]) -> ProvisionSpec:
        return self.spec(keys).for_user(self.cleaned_data["userid"])


class BulkUploadForm(ProvisionTemplateForm):
    file = forms.FileField(
        label="CSV of users",
        help_text="A header line with userid and optionally CN, emailAddress, O, OU … "
        "(they override the template for that user).",
    )

    field_order = ["client", "file"]


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
    fcm_service_account = forms.CharField(
        label="New FCM service-account JSON",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "off"}),
        max_length=20000,
    )
    clear_fcm = forms.BooleanField(label="Remove the FCM service account", required=False)
    apns_key = forms.CharField(
        label="New APNs key (.p8)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "off"}),
        max_length=20000,
    )
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
