"""A smart-card id addresses its profile (issue 11 item 3): the hand-written look-up returns what
the plain ORM form returns, and ``command_create`` sends to that profile or answers 404."""

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from hermod_core.models import EndUser, Mailbox, MailboxKind, Profile, ProfileState
from hermod_core.protocol.commands import parse_command_request
from hermod_core.selectors.profiles import profile_of_smartcard
from hermod_core.services.commands import CommandError, command_create

pytestmark = pytest.mark.django_db


def _profile(group: Any, card: str, *, age: int = 0, state: str = "ACTIVE") -> Profile:
    user, _ = EndUser.objects.get_or_create(group=group, userid="userA")
    profile = Profile.objects.create(
        group=group, user=user, name="Desk", servername="s", smartcard_id=card, state=state
    )
    Profile.objects.filter(pk=profile.pk).update(created_at=timezone.now() - timedelta(minutes=age))
    Mailbox.objects.create(group=group, kind=MailboxKind.PERMANENT, profile=profile)
    return profile


def _orm(group: Any, card: str) -> Profile | None:
    return (
        Profile.objects.filter(
            group=group,
            smartcard_id=card,
            state=ProfileState.ACTIVE,
            mailbox__closed_at__isnull=True,
        )
        .order_by("-created_at")
        .first()
    )


def test_the_smartcard_lookup_matches_its_orm_form(client_a, client_b) -> None:
    group = client_a.client.group
    old = _profile(group, "card-1", age=10)
    new = _profile(group, "card-1", age=1)
    _profile(group, "card-2", state="DELETED")
    _profile(client_b.client.group, "card-3")
    for card in ("card-1", "card-2", "card-3", "unknown"):
        found = profile_of_smartcard(group_id=group.pk, smartcard_id=card)
        assert (found[0] if found else None) == _orm(group, card)
    assert profile_of_smartcard(group_id=group.pk, smartcard_id="") is None
    found = profile_of_smartcard(group_id=group.pk, smartcard_id="card-1")
    assert found is not None
    assert found[0] == new != old


def test_a_command_by_smartcard_goes_to_that_profiles_box(client_a) -> None:
    profile = _profile(client_a.client.group, "card-1")
    request = parse_command_request("startpinreset", {"spinCommand": {"smartcardid": "card-1"}})
    command = command_create(client=client_a.client, request=request)
    (message,) = command.messages.all()
    assert message.profile_id == profile.pk
    assert message.mailbox_id == profile.mailbox.pk


def test_another_groups_smartcard_is_404_naming_the_field(client_a, client_b) -> None:
    _profile(client_b.client.group, "card-1")
    body = {"deleteCommand": {"vscinfo": {"smartcardid": "card-1"}}}
    with pytest.raises(CommandError) as refused:
        command_create(client=client_a.client, request=parse_command_request("delete", body))
    assert (refused.value.status, refused.value.code, refused.value.field) == (
        404,
        "SMARTCARD_NOT_FOUND",
        "deleteCommand.vscinfo.smartcardid",
    )
