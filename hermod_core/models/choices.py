"""Model choices from the pure enums (lifecycle.py, protocol/): one spelling per state."""

from enum import StrEnum


def choices_of(enum: type[StrEnum]) -> list[tuple[str, str]]:
    """The ``choices`` of a column holding ``enum``'s values, labelled as Django's ``TextChoices``
    labels its members (``IN_PROGRESS`` -> "In Progress"), so the migrations stay as they were."""
    return [(member.value, member.name.replace("_", " ").title()) for member in enum]
