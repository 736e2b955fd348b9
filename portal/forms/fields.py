"""Form fields and validators shared by the console's forms: URLs, basic auth, a group or
a client chosen from a list, filter inputs."""

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from hermod_core.models import (
    Client,
    Group,
)
from hermod_core.protocol.client_config import is_http_url


def http_url(value: str) -> None:
    if value and not is_http_url(value.strip()):
        raise ValidationError(
            "Enter an absolute http or https URL, e.g. https://idm.example.com/hermod."
        )


def basic_auth(value: str) -> None:
    if value and ":" not in value:
        raise ValidationError("Write it user:password (a colon between the two).")


def url_field(label: str) -> forms.CharField:
    return forms.CharField(label=label, max_length=500, required=False, validators=[http_url])


def basic_auth_field(label: str) -> forms.CharField:
    return forms.CharField(label=label, max_length=300, required=False, validators=[basic_auth])


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


class ClientChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Client) -> str:
        return f"{obj.client_id} (group {obj.group.name})"


def blank_choices(choices: Any) -> list[tuple[str, str]]:
    return [("", "any"), *[(value, value) for value in choices]]


def datetime_local_field() -> forms.DateTimeField:
    return forms.DateTimeField(
        required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
