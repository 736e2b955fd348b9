"""The models spell states and command types once: their choices are the pure enums' members."""

from django.db import models

from hermod_core import lifecycle
from hermod_core.models import Command, CommandState, CommandType, Message, MessageState
from hermod_core.models.choices import choices_of
from hermod_core.protocol import commands as wire


def test_the_models_names_for_states_are_the_pure_enums() -> None:
    assert CommandState is lifecycle.State
    assert MessageState is lifecycle.DestinationState
    assert CommandType is wire.CommandType


def test_the_columns_choices_are_the_enums_members() -> None:
    assert Command._meta.get_field("state").choices == choices_of(lifecycle.State)
    assert Command._meta.get_field("command_type").choices == choices_of(wire.CommandType)
    assert Message._meta.get_field("state").choices == choices_of(lifecycle.DestinationState)


def test_the_labels_are_those_django_gives_text_choices_so_no_migration_follows() -> None:
    as_text_choices = models.TextChoices("Spelled", [(s.name, s.value) for s in lifecycle.State])
    assert choices_of(lifecycle.State) == as_text_choices.choices
    assert ("IN_PROGRESS", "In Progress") in choices_of(lifecycle.State)
