"""Forms of the Accounts page and of the invitation link (console accounts, not end users)."""

from typing import Any

from django import forms

from portal.services.accounts import (
    INVITATION_DEFAULT_HOURS,
    INVITATION_MAX_HOURS,
)

ROLE_CHOICES = [
    ("operator", "Operator — views everything, issues commands"),
    ("admin", "Admin — also manages clients, groups, keys and accounts"),
]


class _PasswordTwice(forms.Form):
    password1 = forms.CharField(
        label="Password", widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )
    password2 = forms.CharField(
        label="Password (again)",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password1") and data.get("password1") != data.get("password2"):
            self.add_error("password2", "The two passwords differ.")
        return data


class AccountCreateForm(_PasswordTwice):
    username = forms.CharField(label="User name", max_length=150)
    email = forms.EmailField(label="Email (optional)", required=False)
    role = forms.ChoiceField(label="Role", choices=ROLE_CHOICES)

    field_order = ["username", "email", "role", "password1", "password2"]


class AccountRoleForm(forms.Form):
    role = forms.ChoiceField(label="Role", choices=ROLE_CHOICES)


class AccountInviteForm(forms.Form):
    role = forms.ChoiceField(label="Role", choices=ROLE_CHOICES)
    email = forms.EmailField(
        label="Email (optional)",
        required=False,
        help_text="Only a note for you and the new account: Hermod sends no mail.",
    )
    hours = forms.IntegerField(
        label="Valid for (hours)",
        min_value=1,
        max_value=INVITATION_MAX_HOURS,
        initial=INVITATION_DEFAULT_HOURS,
        help_text=f"1 to {INVITATION_MAX_HOURS} hours; the link works once.",
    )


class AccountJoinForm(_PasswordTwice):
    username = forms.CharField(
        label="User name",
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "username"}),
    )

    field_order = ["username", "password1", "password2"]
