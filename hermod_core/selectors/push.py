"""Reads of push: a group's settings, a profile's registration, the push outbox for the console."""

from django.db.models import QuerySet

from hermod_core.models import (
    Group,
    GroupPushSettings,
    Profile,
    PushDelivery,
    PushRegistration,
    PushState,
)


def push_settings_get(group: Group) -> GroupPushSettings | None:
    return GroupPushSettings.objects.filter(group=group).first()


def push_providers(group: Group) -> set[str]:
    config = push_settings_get(group)
    return config.providers() if config is not None else set()


def push_registration_get(profile: Profile) -> PushRegistration | None:
    return PushRegistration.objects.filter(profile=profile).first()


def push_deliveries_list(
    *, state: str = "", profile: Profile | None = None
) -> QuerySet[PushDelivery]:
    """Newest first, with what a row shows (message, command, group) in the same query."""
    rows = PushDelivery.objects.select_related("message__command", "group").order_by("-id")
    if state in PushState.values:
        rows = rows.filter(state=state)
    if profile is not None:
        rows = rows.filter(profile=profile)
    return rows
