"""The provisioning form and its key requests (one page, or an invitation)."""

from datetime import timedelta
from typing import Any, cast

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from hermod_core.models import Client
from hermod_core.protocol.commands import (
    BOOLEAN_EXTENSIONS,
    DEFAULT_SECONDS,
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
from portal.forms.fields import ClientChoiceField
from portal.guidance import FIELD_HELP, help_texts_apply
from portal.provisioning import (
    SUBJECT_FIELDS,
    USERID_PLACEHOLDER,
    KeySpec,
    ProvisionSpec,
)

MAX_INVITATION_HOURS = 24 * 90


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


def _seconds(label: str, help_text: str) -> forms.IntegerField:
    """A number of seconds, 1 to a day, a day by default."""
    return forms.IntegerField(
        label=label,
        min_value=1,
        max_value=MAX_SECONDS,
        initial=DEFAULT_SECONDS,
        help_text=help_text,
    )


class ProvisionTemplateForm(forms.Form):
    """What every provisioning request of a form shares (all but the user id)."""

    client = ClientChoiceField(
        queryset=Client.objects.none(),
        label="On behalf of client",
        help_text="The command is created for this client; its callbacks go there.",
    )
    profile_name = forms.CharField(label="Profile name", max_length=255)
    servername = forms.CharField(label="Server name", max_length=255)
    lifespan = _seconds("Lifespan (s)", "How long the QR code or link can be opened.")
    timeout = _seconds(
        "Timeout (s)", f"When the request ends if not done; at most {MAX_SECONDS} (a day)."
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
