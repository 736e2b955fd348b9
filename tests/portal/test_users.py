"""Users and profiles: search, the profile page, and ping/delete issued from it."""

import pytest
from django.urls import reverse

from hermod_core.models import AuditEvent, Command, Message, Profile, ProfileState
from tests.factories import make_profile, ping_from_page


def test_searching_users_by_id(operator, client_a, client_b, django_assert_max_num_queries):
    make_profile(client_a.client, "bob@example.com")
    make_profile(client_b.client, "bobby@acme.test")
    make_profile(client_a.client, "carol@example.com")
    with django_assert_max_num_queries(6):
        response = operator.get(reverse("portal:users"), {"q": "bob"})
    page = response.content.decode()
    assert "bob@example.com" in page
    assert "bobby@acme.test" in page
    assert "carol@example.com" not in page


def test_search_results_come_as_a_fragment_for_htmx(operator, client_a):
    make_profile(client_a.client, "bob")
    response = operator.get(reverse("portal:users"), {"q": "bo"}, HTTP_HX_REQUEST="true")
    page = response.content.decode()
    assert "<html" not in page
    assert "<table>" in page
    assert "bob" in page


def test_the_user_page_lists_profiles(operator, client_a):
    profile = make_profile(client_a.client, "bob")
    page = operator.get(reverse("portal:user", args=["smartid", "bob"])).content.decode()
    assert str(profile.pk) in page
    assert operator.get(reverse("portal:user", args=["acme", "bob"])).status_code == 404


def test_the_profile_page_shows_device_keys_certificates_box_and_commands(
    operator, client_a, client_a2, client_b, django_assert_max_num_queries
):
    profile = make_profile(client_a.client, "bob")
    with django_assert_max_num_queries(14):
        response = operator.get(reverse("portal:profile", args=[profile.pk]))
    page = response.content.decode()
    for text in ("Pixel", "Android 15", "signer", "CN=Bob,O=Acme", "CN=Test CA", "key-thumb"):
        assert text in page
    assert str(profile.mailbox.pk) in page
    # Only clients of the profile's group can be picked.
    choices = [c.client_id for c in response.context["form"].fields["client"].queryset]
    assert choices == ["da", "idm"]


def test_a_ping_is_issued_as_the_api_would_on_behalf_of_the_chosen_client(
    operator, operator_user, client_a, client_a2
):
    profile = make_profile(client_a.client, "bob")
    response = ping_from_page(operator, profile, client_a2.client)
    command = Command.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:command", args=[command.pk])
    assert (command.command_type, command.client.client_id, command.profile_id) == (
        "PING",
        "da",
        profile.pk,
    )
    assert command.body == {
        "profileid": str(profile.pk),
        "deviceinfo": "true",
        "profileinfo": "true",
    }
    assert Message.objects.get(command=command).mailbox == profile.mailbox
    event = AuditEvent.objects.get(action="command.issue")
    assert (event.actor_user, event.target_id) == (operator_user, str(command.pk))


def test_an_unconfirmed_delete_ends_at_once(operator, client_a):
    profile = make_profile(client_a.client, "bob")
    operator.post(
        reverse("portal:profile", args=[profile.pk]),
        {"action": "delete", "client": client_a.client.pk},
    )
    command = Command.objects.get()
    assert (command.command_type, command.state) == ("DELETE", "COMPLETED")
    profile.refresh_from_db()
    assert profile.state == ProfileState.DELETED


def test_a_confirmed_delete_waits_for_the_device(operator, client_a):
    profile = make_profile(client_a.client, "bob")
    operator.post(
        reverse("portal:profile", args=[profile.pk]),
        {"action": "delete", "client": client_a.client.pk, "confirmed": "on"},
    )
    command = Command.objects.get()
    assert (command.state, command.body["confirmed"]) == ("IN_PROGRESS", "true")
    assert Profile.objects.get().state == ProfileState.ACTIVE


def test_a_client_of_another_group_cannot_be_used(operator, client_a, client_b):
    profile = make_profile(client_a.client, "bob")
    response = ping_from_page(operator, profile, client_b.client)
    assert response.status_code == 400
    assert not Command.objects.exists()


def test_a_disabled_client_cannot_be_used(operator, client_a):
    profile = make_profile(client_a.client, "bob")
    client_a.client.enabled = False
    client_a.client.save()
    response = ping_from_page(operator, profile, client_a.client)
    assert response.status_code == 400
    assert not Command.objects.exists()


def test_an_unknown_profile_is_404(operator, db):
    assert (
        operator.get(
            reverse("portal:profile", args=["3051e9f3-0e4d-436b-a512-2e18d8afe134"])
        ).status_code
        == 404
    )


STORED_DEVICE_INFO = {
    "a member named items": {"items": "x"},
    "members named like dict methods": {"keys": "k", "values": ["v"], "get": {"a": 1}},
    "nested values from an older version": {"name": {"items": [1, 2]}, "model": None},
    "a list from an older version": ["Pixel", {"items": "x"}],
    "a string from an older version": "Pixel",
    "a huge value from an older version": {"name": "P" * 100_000},
}


@pytest.mark.parametrize("device_info", STORED_DEVICE_INFO.values(), ids=STORED_DEVICE_INFO.keys())
def test_the_profile_and_user_pages_render_whatever_device_info_is_stored(
    operator, client_a, device_info
):
    profile = make_profile(client_a.client, "bob")
    Profile.objects.filter(pk=profile.pk).update(
        device_info=device_info,
        desktop_extensions=[{"key": "items", "data": {"items": "x"}}, "junk", {"items": 1}],
    )
    response = operator.get(reverse("portal:profile", args=[profile.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "no device information" not in page
    assert len(page) < 60_000  # values are shown cut to a bounded length
    assert operator.get(reverse("portal:user", args=["smartid", "bob"])).status_code == 200


def test_a_member_named_items_is_shown_as_a_row(operator, client_a):
    profile = make_profile(client_a.client, "bob")
    Profile.objects.filter(pk=profile.pk).update(device_info={"items": "x", "name": "Pixel"})
    response = operator.get(reverse("portal:profile", args=[profile.pk]))
    assert ("items", "x") in response.context["device_rows"]
    assert "<dt>items</dt><dd>x</dd>" in response.content.decode()
