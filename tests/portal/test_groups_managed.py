"""Groups are managed, not typed: created on purpose, renamed, deleted when empty; a client
chooses an existing group from a list, so a typo can no longer create a tenant."""

from django.urls import reverse

from hermod_core.models import AuditEvent, Client, Group
from hermod_core.services.console import ConsoleActor
from portal.services import invitation_create
from tests.portal.test_enroll import _spec


def test_a_typo_in_the_group_creates_no_tenant(admin, client_a) -> None:
    response = admin.post(reverse("portal:client_create"), {"client_id": "gw", "group": "smartdi"})
    assert response.status_code == 400
    assert "Choose one of the listed groups" in response.content.decode()
    assert not Group.objects.filter(name="smartdi").exists()
    assert not Client.objects.filter(client_id="gw").exists()


def test_the_client_form_lists_the_existing_groups(admin, client_a, client_b) -> None:
    page = admin.get(reverse("portal:client_list")).content.decode()
    assert '<select name="group"' in page
    assert '<option value="smartid">smartid</option>' in page
    assert '<option value="acme">acme</option>' in page


def test_an_admin_creates_a_group_explicitly(admin, admin_user) -> None:
    response = admin.post(reverse("portal:group_create"), {"name": "finance"})
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:group", args=["finance"])
    event = AuditEvent.objects.get(action="group.create")
    assert (event.target_id, event.actor_user) == ("finance", admin_user)


def test_a_group_name_differing_only_in_case_is_refused(admin, client_a) -> None:
    response = admin.post(reverse("portal:group_create"), {"name": "SmartID"})
    assert response.status_code == 400
    assert "exists already" in response.content.decode()
    assert Group.objects.count() == 1


def test_an_invalid_group_name_is_refused_with_what_is_valid(admin) -> None:
    response = admin.post(reverse("portal:group_create"), {"name": "no/slash here"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "letters, digits, dots, dashes or underscores" in page
    # Attached to its field.
    assert response.context["create_form"].errors["name"]
    assert not Group.objects.exists()


def test_renaming_a_group_keeps_its_clients(admin, client_a) -> None:
    response = admin.post(reverse("portal:group_rename", args=["smartid"]), {"rename-name": "sid"})
    assert response.status_code == 302
    assert Client.objects.get(client_id="idm").group.name == "sid"
    event = AuditEvent.objects.get(action="group.rename")
    assert event.details == {"from": "smartid", "to": "sid"}


def test_renaming_onto_another_group_is_refused(admin, client_a, client_b) -> None:
    response = admin.post(reverse("portal:group_rename", args=["smartid"]), {"rename-name": "acme"})
    assert response.status_code == 400
    assert "exists already" in response.content.decode()
    assert Group.objects.filter(name="smartid").exists()


def test_an_empty_group_is_deleted(admin) -> None:
    Group.objects.create(name="spare")
    response = admin.post(reverse("portal:group_delete", args=["spare"]))
    assert response.status_code == 302
    assert not Group.objects.filter(name="spare").exists()
    assert AuditEvent.objects.filter(action="group.delete", target_id="spare").exists()


def test_a_group_with_clients_is_not_deleted_and_the_reason_is_shown(admin, client_a) -> None:
    response = admin.post(reverse("portal:group_delete", args=["smartid"]), follow=True)
    page = response.content.decode()
    assert "is not empty (1 clients" in page
    assert Group.objects.filter(name="smartid").exists()
    assert not AuditEvent.objects.filter(action="group.delete").exists()
    # The group page says so before anyone tries, and offers no delete button.
    assert 'id="group-delete-blocked"' in page
    assert reverse("portal:group_delete", args=["smartid"]) not in page


def test_a_group_whose_only_client_was_deleted_keeps_its_commands(admin, client_a) -> None:
    invitation_create(actor=ConsoleActor(name="x"), client=client_a.client, spec=_spec("u1"))
    Client.objects.filter(pk=client_a.client.pk).update(enabled=False)
    admin.post(reverse("portal:group_delete", args=["smartid"]))
    assert Group.objects.filter(name="smartid").exists()


def test_an_operator_may_not_manage_groups(operator, client_a) -> None:
    assert operator.post(reverse("portal:group_create"), {"name": "x"}).status_code == 403
    page = operator.get(reverse("portal:group", args=["smartid"])).content.decode()
    assert 'id="group-manage"' not in page
