"""The filter form of the Audit log."""

from typing import Any

from django import forms

from hermod_core.models import Group
from hermod_core.selectors.console import AuditFilters
from portal.forms.fields import datetime_local_field


class AuditFilterForm(forms.Form):
    actor = forms.CharField(max_length=200, required=False)
    action = forms.CharField(max_length=100, required=False)
    target = forms.CharField(max_length=100, required=False)
    group = forms.ChoiceField(choices=[("", "any")], required=False)
    since = datetime_local_field()
    until = datetime_local_field()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Chosen from the groups that exist, like everywhere else a group is asked for.
        names = Group.objects.order_by("name").values_list("name", flat=True)
        self.fields["group"].choices = [("", "any"), *[(name, name) for name in names]]  # type: ignore[attr-defined]

    def filters(self) -> AuditFilters:
        """The log's filters (the fields are named as in ``AuditFilters``); an invalid query
        filters nothing."""
        return AuditFilters(**self.cleaned_data) if self.is_valid() else AuditFilters()
