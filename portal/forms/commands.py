"""The filter form of the Commands list."""

from django import forms

from hermod_core.models import (
    CommandState,
    CommandType,
)
from hermod_core.selectors.console import CommandFilters
from portal.forms.fields import (
    blank_choices,
    datetime_local_field,
)


class CommandFilterForm(forms.Form):
    type = forms.ChoiceField(choices=blank_choices([t.value for t in CommandType]), required=False)
    state = forms.ChoiceField(
        choices=blank_choices([s.value for s in CommandState]), required=False
    )
    client = forms.CharField(max_length=100, required=False)
    user = forms.CharField(max_length=255, required=False)
    created_from = datetime_local_field()
    created_to = datetime_local_field()

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
