"""Each tuned statement of hermod_core.sql returns what its ORM form returns (run on SQLite
and, with DATABASE_URL, on PostgreSQL), and no other module of the code opens a cursor or calls
``.raw()``."""

import ast
import itertools
import uuid
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Model, Q, Sum
from django.utils import timezone

from hermod_core import sql
from hermod_core.lifecycle import destination_sources
from hermod_core.models import (
    AcceptedSignature,
    CallbackAttempt,
    CallbackDelivery,
    Client,
    Command,
    DeliveryState,
    EndUser,
    GroupPushSettings,
    InProgressTally,
    Key,
    Mailbox,
    MailboxKind,
    Message,
    MessageState,
    Profile,
    ProfileState,
)
from hermod_core.selectors.mailbox import visible_messages
from tests.factories import Persona, make_profile
from tests.seeds import provisioning_command

ROOT = Path(__file__).resolve().parents[2]
PREFIX = f"/{settings.HERMOD_API_PREFIX}"


def row(instance: Model | None) -> dict[str, Any] | None:
    """Every column of a model instance, as Django converted it."""
    if instance is None:
        return None
    return {f.attname: getattr(instance, f.attname) for f in type(instance)._meta.concrete_fields}


def rows_with_box(found: list[tuple[Profile, uuid.UUID]]) -> list[tuple[Any, uuid.UUID]]:
    return [(row(profile), box) for profile, box in found]


def orm_with_box(**filters: Any) -> list[tuple[Any, uuid.UUID]]:
    """The ORM form of the profile-with-box lookups: the profile and its box's id."""
    profiles = Profile.objects.filter(mailbox__isnull=False, **filters).annotate(
        box=F("mailbox__id")
    )
    return [(row(p), p.box) for p in profiles]


def create_command(web: Any, persona: Persona) -> Command:
    response = web.post(
        f"{PREFIX}/command/provision",
        provisioning_command(),
        content_type="application/json",
        **persona.headers,
    )
    assert response.status_code == 200, response.content
    return Command.objects.get(pk=response.json()["commandId"])


@pytest.fixture
def profiles(client_a: Persona, client_b: Persona) -> dict[str, Profile]:
    """Profiles of one userid in two groups: open, closed, deleted, box-less, smart cards."""
    group_a, group_b = client_a.client.group, client_b.client.group
    alice = EndUser.objects.create(group=group_a, userid="alice")
    alice_b = EndUser.objects.create(group=group_b, userid="alice")
    made: dict[str, Profile] = {}

    def make(name: str, user: EndUser, *, box: str | None = "open", **extra: Any) -> None:
        profile = Profile.objects.create(
            group=user.group, user=user, name=name, servername="hermod", **extra
        )
        if box is not None:
            Mailbox.objects.create(
                group=user.group,
                kind=MailboxKind.PERMANENT,
                profile=profile,
                token_hash=f"digest-{name}",
                closed_at=timezone.now() if box == "closed" else None,
            )
        made[name] = profile

    make("old", alice, smartcard_id="card")
    make("new", alice, smartcard_id="card")
    make("closed", alice, box="closed", smartcard_id="card")
    make("deleted", alice, state=ProfileState.DELETED, smartcard_id="card")
    make("boxless", alice, box=None)
    make("other-group", alice_b, smartcard_id="card")
    return made


@pytest.mark.django_db
def test_the_client_by_its_client_id_is_the_orm_s(client_a: Persona, client_b: Persona) -> None:
    for client_id in (client_a.client.client_id, client_b.client.client_id, "nobody"):
        expected = Client.objects.filter(client_id=client_id).first()
        assert row(sql.client_by_client_id(client_id)) == row(expected)
    assert sql.client_by_client_id(client_a.client.client_id) is not None


@pytest.mark.django_db
def test_the_client_by_its_pk_is_the_orm_s_and_a_missing_one_raises(client_a: Persona) -> None:
    assert row(sql.client_by_pk(client_a.client.pk)) == row(
        Client.objects.get(pk=client_a.client.pk)
    )
    with pytest.raises(Client.DoesNotExist):
        sql.client_by_pk(client_a.client.pk + 1000)


def test_an_active_profile_with_its_box_is_the_orm_s(
    profiles: dict[str, Profile], client_a: Persona, client_b: Persona
) -> None:
    for profile in [*profiles.values(), Profile(id=uuid.uuid4())]:
        for group_id in (client_a.client.group_id, client_b.client.group_id):
            found = sql.active_profile_with_box(group_id=group_id, profile_id=profile.id)
            expected = orm_with_box(pk=profile.id, group_id=group_id, state=ProfileState.ACTIVE)
            assert rows_with_box([found] if found else []) == expected
    found = sql.active_profile_with_box(
        group_id=client_a.client.group_id, profile_id=profiles["closed"].id
    )
    assert found is not None
    assert found[1] == profiles["closed"].mailbox.id


def test_a_user_s_profiles_with_their_boxes_are_the_orm_s(
    profiles: dict[str, Profile], client_a: Persona, client_b: Persona
) -> None:
    for group_id in (client_a.client.group_id, client_b.client.group_id):
        for userid in ("alice", "bob"):
            expected = orm_with_box(
                user__userid=userid,
                group_id=group_id,
                state=ProfileState.ACTIVE,
                mailbox__closed_at=None,
            )
            found = sql.active_profiles_of_user_with_box(group_id=group_id, userid=userid)
            assert rows_with_box(found) == sorted(expected, key=lambda r: r[0]["created_at"])
    in_a = sql.active_profiles_of_user_with_box(group_id=client_a.client.group_id, userid="alice")
    assert [p.name for p, _ in in_a] == ["old", "new"]


def test_a_smart_card_s_newest_profile_with_its_box_is_the_orm_s(
    profiles: dict[str, Profile], client_a: Persona, client_b: Persona
) -> None:
    for group_id in (client_a.client.group_id, client_b.client.group_id):
        for card in ("card", "other"):
            expected = orm_with_box(
                smartcard_id=card,
                group_id=group_id,
                state=ProfileState.ACTIVE,
                mailbox__closed_at=None,
            )
            newest = sorted(expected, key=lambda r: r[0]["created_at"], reverse=True)[:1]
            found = sql.active_profile_of_smartcard_with_box(group_id=group_id, smartcard_id=card)
            assert rows_with_box([found] if found else []) == newest
    found = sql.active_profile_of_smartcard_with_box(
        group_id=client_a.client.group_id, smartcard_id="card"
    )
    assert found is not None
    assert found[0].name == "new"


def test_the_box_token_digest_of_an_open_permanent_box_is_the_orm_s(
    profiles: dict[str, Profile], client_a: Persona
) -> None:
    temporary = Mailbox.objects.create(
        group=client_a.client.group, kind=MailboxKind.TEMPORARY, token_hash="digest-temp"
    )
    boxes = [*Mailbox.objects.all(), Mailbox(id=uuid.uuid4())]
    for box in boxes:
        expected = (
            Mailbox.objects.filter(pk=box.pk, kind=MailboxKind.PERMANENT, closed_at=None)
            .values_list("token_hash", flat=True)
            .first()
        )
        assert sql.open_box_token_hash(box.pk) == expected
    assert sql.open_box_token_hash(profiles["old"].mailbox.pk) == "digest-old"
    assert sql.open_box_token_hash(profiles["closed"].mailbox.pk) is None
    assert sql.open_box_token_hash(temporary.pk) is None


def test_a_profile_s_active_keys_are_the_orm_s(profiles: dict[str, Profile]) -> None:
    for n, state in enumerate(["ACTIVE", "REVOKED", "ACTIVE"]):
        for profile in (profiles["old"], profiles["new"]):
            Key.objects.create(
                profile=profile,
                keyid=f"k{n}",
                usage="auth",
                keytype="EC",
                keylength=256,
                keystate=state,
                jwk={"kty": "EC", "n": n},
                thumbprint=f"t{n}",
                certreq="",
            )
    for profile in (*profiles.values(), Profile(id=uuid.uuid4())):
        expected = Key.objects.filter(profile_id=profile.pk, keystate="ACTIVE").order_by("id")
        assert [row(k) for k in sql.active_keys(profile.pk)] == [row(k) for k in expected]
    assert [k.jwk for k in sql.active_keys(profiles["old"].pk)] == [
        {"kty": "EC", "n": 0},
        {"kty": "EC", "n": 2},
    ]


@pytest.mark.django_db
def test_a_client_s_own_command_is_the_orm_s(
    client: Any, client_a: Persona, client_b: Persona
) -> None:
    command = create_command(client, client_a)
    for command_id in (command.pk, command.pk + 1000):
        for persona in (client_a, client_b):
            expected = Command.objects.filter(pk=command_id, client_id=persona.client.pk).first()
            found = sql.command_of_client(command_id=command_id, client_id=persona.client.pk)
            assert row(found) == row(expected)
    assert sql.command_of_client(command_id=command.pk, client_id=client_b.client.pk) is None


@pytest.mark.django_db
def test_the_clients_of_commands_are_the_orm_s(
    client: Any, client_a: Persona, client_b: Persona
) -> None:
    commands = [create_command(client, p) for p in (client_a, client_a, client_b)]
    ids = [c.pk for c in commands]
    for chosen in (ids, ids[:1], ids[1:], [], [ids[0] + 1000]):
        expected = Counter(
            Command.objects.filter(pk__in=chosen).values_list("client_id", flat=True)
        )
        assert Counter(sql.clients_of_commands(chosen)) == expected
    assert Counter(sql.clients_of_commands(ids)) == {client_a.client.pk: 2, client_b.client.pk: 1}


@pytest.mark.django_db
def test_the_in_progress_tally_adds_and_sums_as_the_orm_does(
    client_a: Persona, client_b: Persona
) -> None:
    a, b = client_a.client.pk, client_b.client.pk
    for client_id, slot, change in [(a, 0, 1), (a, 0, 1), (a, 3, 1), (a, 0, -1), (b, 0, 5)]:
        sql.tally_add(client_id=client_id, slot=slot, change=change)
    slots = dict(InProgressTally.objects.filter(client_id=a).values_list("slot", "count"))
    assert slots == {0: 1, 3: 1}
    for client_id in (a, b, a + b + 1000):
        expected = InProgressTally.objects.filter(client_id=client_id).aggregate(n=Sum("count"))
        assert sql.in_progress_count(client_id) == (expected["n"] or 0)
    assert sql.in_progress_count(a) == 2


def new_command(
    persona: Persona, profiles: list[Profile], digest: str, now: datetime
) -> tuple[Any, ...]:
    """An unsaved command to ``profiles``' boxes, its messages and its callback row."""
    command = Command(
        client=persona.client,
        group_id=persona.client.group_id,
        command_type="AUTH",
        external_id="parity",
        lifespan=60,
        timeout=120,
        expires_at=now + timedelta(seconds=120),
        header={"to": ["@alice"], "lifespan": 60, "timeout": 120},
        body={"params": {"tbs": [{"key": "k", "data": "ü€ \u2028"}]}, "n": 1.5},
        profile_id=profiles[0].pk,
        content_ready=False,
    )
    messages = [
        Message(
            command=command,
            mailbox_id=profile.mailbox.pk,
            profile=profile,
            to="@alice",
            token_hash=f"{digest}-{n}",
            token_sealed="sealed",
            expires_at=now + timedelta(seconds=60),
        )
        for n, profile in enumerate(profiles)
    ]
    callback = CallbackDelivery(
        command=command, client=persona.client, path="/auth", max_attempts=3
    )
    return command, messages, callback


def rows_of(command: Command) -> list[Any]:
    """A command's rows as the database holds them, without what is unique to each (ids, times,
    digests)."""
    unique = {"id", "command_id", "token_hash", "event_id", "created_at", "updated_at"}

    def plain(instance: Model) -> dict[str, Any]:
        return {k: v for k, v in (row(instance) or {}).items() if k not in unique}

    saved = Command.objects.get(pk=command.pk)
    return [
        plain(saved),
        [plain(m) for m in Message.objects.filter(command=saved).order_by("to", "mailbox_id")],
        plain(CallbackDelivery.objects.get(command=saved)),
    ]


@pytest.mark.django_db
def test_a_new_command_with_its_rows_is_written_as_the_orm_writes_it(
    client_a: Persona, profiles: dict[str, Profile]
) -> None:
    boxed, now = [profiles["old"], profiles["new"]], timezone.now()
    command, messages, callback = new_command(client_a, boxed, "orm", now)
    command.save()
    for message in messages:
        message.save()
    callback.save()
    sql.tally_add(client_id=client_a.client.pk, slot=2, change=1)

    created, created_messages, created_callback = new_command(client_a, boxed, "sql", now)
    sql.command_insert(
        command=created, messages=created_messages, callback=created_callback, tally_slot=2
    )
    assert rows_of(created) == rows_of(command)
    # The instances are as saved: what the database holds, linked to their command.
    assert row(created) == row(Command.objects.get(pk=created.pk))
    for message in created_messages:
        assert message.command is created
        assert row(message) == row(Message.objects.get(pk=message.pk))
    assert created_callback.command is created
    assert row(created_callback) == row(CallbackDelivery.objects.get(pk=created_callback.pk))
    assert not created._state.adding
    assert sql.in_progress_count(client_a.client.pk) == 2


@pytest.mark.django_db
def test_a_new_command_is_written_with_all_its_rows_or_not_at_all(
    client_a: Persona, profiles: dict[str, Profile]
) -> None:
    boxed = [profiles["old"], profiles["new"]]
    command, messages, callback = new_command(client_a, boxed, "same", timezone.now())
    messages[1].token_hash = messages[0].token_hash  # unique: the second message is refused
    with pytest.raises(IntegrityError), transaction.atomic():
        sql.command_insert(command=command, messages=messages, callback=callback, tally_slot=0)
    assert not Command.objects.exists()
    assert not Message.objects.exists()
    assert not CallbackDelivery.objects.exists()
    assert sql.in_progress_count(client_a.client.pk) == 0


@pytest.mark.django_db
def test_a_group_s_push_settings_are_the_orm_s(client_a: Persona, client_b: Persona) -> None:
    GroupPushSettings.objects.create(
        group=client_a.client.group,
        relay_url="https://relay.example.com/push",
        webpush_enabled=True,
        vapid_private_sealed="sealed",
    )
    for group_id in (client_a.client.group_id, client_b.client.group_id, 1000):
        expected = GroupPushSettings.objects.filter(group_id=group_id).first()
        assert row(sql.group_push_settings(group_id)) == row(expected)
    found = sql.group_push_settings(client_a.client.group_id)
    assert found is not None
    assert found.providers() == {"relay", "webpush"}


@pytest.mark.django_db
def test_the_callback_claim_is_the_orm_s_conditional_update(client: Any, client_a: Persona) -> None:
    delivery = create_command(client, client_a).callback
    now = timezone.now()
    lease = now + timedelta(seconds=60)
    CallbackDelivery.objects.filter(pk=delivery.pk).update(state=DeliveryState.WAITING)
    assert sql.callback_claim(delivery_id=delivery.pk, now=now, lease=lease) is None

    due = now - timedelta(seconds=1)
    CallbackDelivery.objects.filter(pk=delivery.pk).update(
        state=DeliveryState.PENDING, next_attempt_at=due, body={"commandId": "1"}
    )
    claimed = sql.callback_claim(delivery_id=delivery.pk, now=now, lease=lease)
    assert claimed is not None
    assert claimed.next_attempt_at == lease
    assert row(claimed) == row(CallbackDelivery.objects.get(pk=delivery.pk))
    # The lease makes it not due: a second worker's claim at the same moment wins nothing.
    assert sql.callback_claim(delivery_id=delivery.pk, now=now, lease=lease) is None
    # The ORM form of the same claim agrees.
    orm_won = CallbackDelivery.objects.filter(
        pk=delivery.pk, state=DeliveryState.PENDING, next_attempt_at__lte=now
    ).update(next_attempt_at=lease)
    assert orm_won == 0
    assert sql.callback_claim(delivery_id=delivery.pk + 1000, now=now, lease=lease) is None


@pytest.mark.django_db
def test_the_batch_callback_claim_is_the_orm_s_conditional_update(
    client: Any, client_a: Persona
) -> None:
    due, waiting, held = (create_command(client, client_a).callback for _ in range(3))
    now = timezone.now()
    lease = now + timedelta(seconds=60)
    CallbackDelivery.objects.filter(pk__in=[due.pk, held.pk]).update(
        state=DeliveryState.PENDING, next_attempt_at=now - timedelta(seconds=1), body={"a": 1}
    )
    CallbackDelivery.objects.filter(pk=held.pk).update(next_attempt_at=now + timedelta(seconds=5))
    ids = [due.pk, waiting.pk, held.pk, held.pk + 1000]
    expected = set(
        CallbackDelivery.objects.filter(
            pk__in=ids, state=DeliveryState.PENDING, next_attempt_at__lte=now
        ).values_list("pk", flat=True)
    )
    claimed = sql.callbacks_claim(delivery_ids=ids, now=now, lease=lease)
    assert {d.pk for d in claimed} == expected == {due.pk}
    assert [row(d) for d in claimed] == [row(CallbackDelivery.objects.get(pk=due.pk))]
    assert claimed[0].next_attempt_at == lease
    assert sql.callbacks_claim(delivery_ids=ids, now=now, lease=lease) == []
    assert sql.callbacks_claim(delivery_ids=[], now=now, lease=lease) == []


@pytest.mark.django_db
def test_the_callback_release_writes_what_saving_each_row_writes(
    client: Any, client_a: Persona
) -> None:
    deliveries = [create_command(client, client_a).callback for _ in range(3)]
    now = timezone.now()
    changes = [
        ({"commandId": "1", "state": "EXPIRED", "text": 'a "quoted" \\ é'}, "PENDING", now),
        ({"commandId": "2", "nested": [1, None, {"x": True}]}, "SKIPPED", None),
        ({"commandId": "3"}, "PENDING", now - timedelta(microseconds=1)),
    ]

    def apply() -> None:
        for delivery, (body, state, at) in zip(deliveries, changes, strict=True):
            delivery.body, delivery.state, delivery.next_attempt_at = body, state, at

    apply()
    sql.callbacks_release(deliveries)
    written = [row(CallbackDelivery.objects.get(pk=d.pk)) for d in deliveries]
    CallbackDelivery.objects.filter(pk__in=[d.pk for d in deliveries]).update(
        body=None, state=DeliveryState.WAITING, next_attempt_at=None
    )
    apply()
    for delivery in deliveries:
        delivery.save(update_fields=["body", "state", "next_attempt_at"])
    assert written == [row(CallbackDelivery.objects.get(pk=d.pk)) for d in deliveries]


def auth_command(web: Any, persona: Persona, profile: Profile) -> Command:
    response = web.post(
        f"{PREFIX}/command/authenticate",
        {"commandHeader": {"externalId": "sql"}, "authCommand": {"profileid": str(profile.pk)}},
        content_type="application/json",
        **persona.headers,
    )
    assert response.status_code == 200, response.content
    return Command.objects.get(pk=response.json()["commandId"])


@pytest.mark.django_db
def test_a_message_with_its_command_and_profile_is_the_orm_s(
    client: Any, client_a: Persona, django_assert_num_queries: Any
) -> None:
    profile = make_profile(client_a.client)
    commands = [create_command(client, client_a), auth_command(client, client_a, profile)]
    messages = [m for c in commands for m in c.messages.all()]
    assert {m.profile_id for m in messages} == {None, profile.pk}
    for message in messages:
        for bid in (message.mailbox_id, uuid.uuid4()):
            for mid in (message.pk, uuid.uuid4()):
                expected = (
                    Message.objects.filter(pk=mid, mailbox_id=bid)
                    .select_related("command", "profile")
                    .first()
                )
                found = sql.message_with_command(mid=mid, bid=bid)
                assert row(found) == row(expected)
                if found is not None and expected is not None:
                    with django_assert_num_queries(0):
                        assert row(found.command) == row(expected.command)
                        assert row(found.profile) == row(expected.profile)


@pytest.mark.django_db
def test_the_answer_claim_is_the_orm_s_conditional_update(client: Any, client_a: Persona) -> None:
    """Every combination of what makes a message visible (its state and deadline, its command's
    state, deadline and content): the hand-written claim moves exactly the messages the ORM form
    of messages_transition moves, and writes the same."""
    message = create_command(client, client_a).messages.get()
    command = message.command
    now = timezone.now()
    past, future = now - timedelta(seconds=1), now + timedelta(seconds=60)
    sources = [s.value for s in destination_sources(MessageState.ANSWERED)]
    claimed_cases = 0

    def reset(case: tuple[Any, ...]) -> None:
        state, expires, command_state, command_expires, ready = case
        Message.objects.filter(pk=message.pk).update(
            state=state, expires_at=expires, answered_at=None
        )
        Command.objects.filter(pk=command.pk).update(
            state=command_state,
            expires_at=command_expires,
            content_ready=ready,
            finished_at=None if command_state == "IN_PROGRESS" else now,
        )

    for case in itertools.product(
        [s.value for s in MessageState], (past, now, future), ("IN_PROGRESS", "COMPLETED"),
        (past, now, future), (True, False),
    ):  # fmt: skip
        reset(case)
        orm = Message.objects.filter(
            visible_messages(now) & Q(pk=message.pk), state__in=sources
        ).update(state=MessageState.ANSWERED, answered_at=now)
        orm_row = row(Message.objects.get(pk=message.pk))
        reset(case)
        assert sql.message_claim_answer(mid=message.pk, now=now) == orm
        assert row(Message.objects.get(pk=message.pk)) == orm_row
        claimed_cases += orm
    assert claimed_cases == 2 * 2  # WAITING or FETCHED, in time, command in progress and ready
    assert sql.message_claim_answer(mid=uuid.uuid4(), now=now) == 0


@pytest.mark.django_db
def test_the_waiting_callbacks_with_command_and_client_are_the_orm_s(
    client: Any, client_a: Persona, client_b: Persona, django_assert_num_queries: Any
) -> None:
    commands = [create_command(client, p) for p in (client_a, client_b, client_a)]
    CallbackDelivery.objects.filter(command=commands[2]).update(
        state=DeliveryState.SKIPPED, body={"a": 1}
    )
    ids = [c.pk for c in commands]
    for chosen in (ids, ids[:1], ids[2:], [], [ids[0] + 1000]):
        expected = list(
            CallbackDelivery.objects.filter(
                command_id__in=chosen, state=DeliveryState.WAITING
            ).select_related("command", "client")
        )
        found = sql.callbacks_waiting(chosen)
        assert [row(d) for d in found] == [row(d) for d in expected]
        with django_assert_num_queries(0):
            assert [(row(d.command), row(d.client)) for d in found] == [
                (row(d.command), row(d.client)) for d in expected
            ]
    assert len(sql.callbacks_waiting(ids)) == 2


@pytest.mark.django_db
def test_the_waiting_callbacks_of_one_client_share_its_instance(
    client: Any, client_a: Persona, client_b: Persona
) -> None:
    commands = [create_command(client, p) for p in (client_a, client_b, client_a)]
    found = {d.command_id: d for d in sql.callbacks_waiting([c.pk for c in commands])}
    first, other, second = (found[c.pk] for c in commands)
    assert first.client is second.client
    assert first.client.client_id == client_a.client.client_id
    assert other.client is not first.client
    assert other.client.client_id == client_b.client.client_id
    assert first.command is not second.command


@pytest.mark.django_db
def test_the_messages_of_commands_are_the_orm_s(client: Any, client_a: Persona) -> None:
    commands = [create_command(client, client_a) for _ in range(2)]
    profile = make_profile(client_a.client)
    commands.append(auth_command(client, client_a, profile))
    ids = [c.pk for c in commands]
    for chosen in (ids, ids[1:], [], [ids[0] + 1000]):
        expected = Message.objects.filter(command_id__in=chosen)
        assert [row(m) for m in sql.messages_of_commands(chosen)] == [row(m) for m in expected]
    assert len(sql.messages_of_commands(ids)) == 3


@pytest.mark.django_db
def test_the_end_of_commands_is_the_orm_s_conditional_update(
    client: Any, client_a: Persona
) -> None:
    commands = [create_command(client, client_a) for _ in range(3)]
    ids = [c.pk for c in commands]
    profile = make_profile(client_a.client)
    now = timezone.now()
    changes: dict[str, Any] = {
        "state": "COMPLETED",
        "finished_at": now,
        "failure_code": "",
        "failure_reason": 'a "quoted" \\ é',
        "answer": {"responseHeader": {"code": 0}, "nested": [1, None, {"x": True}]},
        "profile_id": profile.pk,
        "signature": {"verification": "ok"},
    }
    Command.objects.filter(pk=ids[2]).update(state="FAILED", finished_at=now)
    columns = [f.attname for f in Command._meta.concrete_fields]

    def rows() -> list[tuple[Any, ...]]:
        return list(Command.objects.filter(pk__in=ids).order_by("pk").values_list(*columns))

    before = rows()
    orm = Command.objects.filter(pk__in=ids, state__in=["IN_PROGRESS"]).update(**changes)
    after_orm = rows()
    for command, values in zip(commands, before, strict=True):
        Command.objects.filter(pk=command.pk).update(**dict(zip(columns, values, strict=True)))
    assert rows() == before
    won = sql.commands_end(command_ids=ids, sources=["IN_PROGRESS"], changes=changes)
    assert won == orm == 2
    assert rows() == after_orm
    assert sql.commands_end(command_ids=ids, sources=["IN_PROGRESS"], changes=changes) == 0


@pytest.mark.django_db
def test_the_end_of_open_destinations_is_the_orm_s_conditional_update(
    client: Any, client_a: Persona
) -> None:
    commands = [create_command(client, client_a) for _ in range(3)]
    ids = [c.pk for c in commands]
    Message.objects.filter(command_id=ids[1]).update(state="FETCHED")
    Message.objects.filter(command_id=ids[2]).update(state="ANSWERED")
    states = list(Message.objects.order_by("pk").values_list("pk", "state"))
    open_ = ["WAITING", "FETCHED"]
    orm = Message.objects.filter(command_id__in=ids, state__in=open_).update(state="WITHDRAWN")
    after_orm = list(Message.objects.order_by("pk").values_list("pk", "state"))
    for pk, state in states:
        Message.objects.filter(pk=pk).update(state=state)
    assert sql.messages_end(command_ids=ids, sources=open_, to="WITHDRAWN") == orm == 2
    assert list(Message.objects.order_by("pk").values_list("pk", "state")) == after_orm
    assert sql.messages_end(command_ids=ids, sources=open_, to="EXPIRED") == 0


@pytest.mark.django_db
def test_an_accepted_signature_is_inserted_once_per_profile_and_per_signer(
    client_a: Persona,
) -> None:
    profile = make_profile(client_a.client)
    other = make_profile(client_a.client, "carol")

    def add(**fields: Any) -> bool:
        return sql.accepted_signature_add(AcceptedSignature(**fields))

    assert add(profile=profile, sha256="s1")
    assert not add(profile=profile, sha256="s1")  # accepted_signature_unique_per_profile
    assert add(profile=other, sha256="s1")
    assert add(profile=None, signer="k1", sha256="s1")
    assert not add(profile=None, signer="k1", sha256="s1")  # ..._unique_per_signer
    assert add(profile=None, signer="k2", sha256="s1")
    # The rows are those the ORM writes (with their ids and creation times).
    signature = AcceptedSignature(profile=profile, sha256="s2")
    assert sql.accepted_signature_add(signature)
    assert row(signature) == row(AcceptedSignature.objects.get(pk=signature.pk))
    assert AcceptedSignature.objects.count() == 5
    # The ORM's plain INSERT fails on the same conflicts.
    for fields in ({"profile": profile, "sha256": "s1"}, {"signer": "k1", "sha256": "s1"}):
        with pytest.raises(IntegrityError), transaction.atomic():
            AcceptedSignature.objects.create(**fields)


@pytest.mark.django_db
def test_the_callback_record_writes_what_its_orm_form_writes(
    client: Any, client_a: Persona
) -> None:
    deliveries = [create_command(client, client_a).callback for _ in range(4)]
    ids = [d.pk for d in deliveries]
    now = timezone.now()
    later = now + timedelta(seconds=30)

    def record(n: int, **values: Any) -> sql.AttemptRecord:
        return sql.AttemptRecord(
            **{"delivery_id": ids[n], "number": 3, "status_code": None, "duration_ms": 7} | values
        )

    records = [
        record(0, status_code=200, error="", at=now, attempts=None, state="DELIVERED",
               next_attempt_at=None, delivered_at=now),
        record(1, error='timeout "after" 10 s é', at=now, attempts=3, state="PENDING",
               next_attempt_at=later, delivered_at=None),
        record(2, status_code=500, error="HTTP 500", at=now, attempts=3, state="EXHAUSTED",
               next_attempt_at=None, delivered_at=None),
        # Somebody else delivered it meanwhile: its attempt is kept, its row is left alone.
        record(3, status_code=200, error="", at=now, attempts=None, state="DELIVERED",
               next_attempt_at=None, delivered_at=later),
    ]  # fmt: skip

    def reset() -> None:
        CallbackAttempt.objects.filter(delivery_id__in=ids).delete()
        CallbackDelivery.objects.filter(pk__in=ids).update(
            state=DeliveryState.PENDING, body={"x": 1}, attempts=2, next_attempt_at=now
        )
        CallbackDelivery.objects.filter(pk=ids[3]).update(state=DeliveryState.DELIVERED)

    def written() -> list[Any]:
        attempts = CallbackAttempt.objects.filter(delivery_id__in=ids).order_by("delivery_id")
        return [row(CallbackDelivery.objects.get(pk=pk)) for pk in ids] + [
            {k: v for k, v in (row(a) or {}).items() if k not in {"id", "at"}} for a in attempts
        ]

    reset()
    sql.callbacks_record(records)
    by_statement = written()
    reset()
    sql._callbacks_record_orm(records)
    assert by_statement == written()
    assert [d["state"] for d in by_statement[:4]] == [
        "DELIVERED",
        "PENDING",
        "EXHAUSTED",
        "DELIVERED",
    ]


@pytest.mark.django_db
def test_the_database_ping_names_the_database() -> None:
    assert sql.database_ping() == connection.vendor


def _raw_sql_uses(path: Path, root: Path = ROOT) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        func = node.func if isinstance(node, ast.Call) else None
        if isinstance(func, ast.Attribute) and func.attr in {"cursor", "raw", "extra"}:
            found.append(f"{path.relative_to(root)}:{node.lineno} .{func.attr}()")
        if isinstance(node, ast.Attribute) and node.attr == "_prefetched_objects_cache":
            found.append(f"{path.relative_to(root)}:{node.lineno} _prefetched_objects_cache")
    return found


def test_no_module_but_hermod_core_sql_writes_sql_by_hand() -> None:
    files = [
        path
        for place in ("hermod_core", "portal", "celery_app")
        for path in sorted((ROOT / place).rglob("*.py"))
        if path != ROOT / "hermod_core" / "sql.py"
    ]
    assert [use for path in files for use in _raw_sql_uses(path)] == []


def test_the_check_sees_a_cursor_a_raw_query_and_a_private_cache(tmp_path: Path) -> None:
    module = ROOT / "hermod_core" / "sql.py"
    assert any(".cursor()" in use for use in _raw_sql_uses(module))
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text(
        "c._prefetched_objects_cache = {}\nConnection().cursor()\nClient.objects.raw('')\n"
    )
    assert _raw_sql_uses(sneaky, tmp_path) == [
        "sneaky.py:1 _prefetched_objects_cache",
        "sneaky.py:2 .cursor()",
        "sneaky.py:3 .raw()",
    ]
