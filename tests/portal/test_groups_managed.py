"""Groups are managed, not typed: created on purpose, renamed, deleted when empty; a client
chooses an existing group from a list, so a typo can no longer create a tenant."""

from django.contrib.auth.models import Group as AuthGroup
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client as HttpClient
from django.urls import reverse

from hermod_core.lifecycle import State
from hermod_core.models import AuditEvent, Client, Command, Group
from hermod_core.services.audit import Actor
from hermod_core.services.commands import command_transition
from portal.roles import ADMIN_GROUP
from portal.services.invitations import (
    invitation_create,
)
from tests.factories import provision_spec


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
    assert "is not empty (1 client" in page
    assert Group.objects.filter(name="smartid").exists()
    assert not AuditEvent.objects.filter(action="group.delete").exists()
    # The group page says so before anyone tries, and offers no delete button.
    assert 'id="group-delete-blocked"' in page
    assert reverse("portal:group_delete", args=["smartid"]) not in page


def test_an_operator_may_not_manage_groups(operator, client_a) -> None:
    assert operator.post(reverse("portal:group_create"), {"name": "x"}).status_code == 403
    page = operator.get(reverse("portal:group", args=["smartid"])).content.decode()
    assert 'id="group-manage"' not in page


# --- deleting a client ------------------------------------------------------------------------


def _finished_command(persona) -> int:
    issued = invitation_create(
        actor=Actor(name="x"), client=persona.client, spec=provision_spec("kept-user")
    )
    command_transition(command_id=issued.invitation.command_id, to=State.CANCELLED)
    return issued.invitation.command_id


def test_deleting_a_client_keeps_its_commands_and_the_audit_says_who(
    admin, admin_user, client_a
) -> None:
    command_id = _finished_command(client_a)
    response = admin.post(reverse("portal:client_delete", args=["idm"]), REMOTE_ADDR="192.0.2.9")
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:client_list")
    client = Client.objects.get(client_id="idm")
    assert client.deleted_at is not None
    assert (client.enabled, client.key_hash) == (False, "")
    assert Command.objects.get(pk=command_id).client_id == client.pk
    event = AuditEvent.objects.get(action="client.delete")
    assert (event.target_id, event.actor_user, event.ip) == ("idm", admin_user, "192.0.2.9")
    assert event.details == {"commands_kept": 1}
    # Out of the lists, its command page still names it, its page says it was deleted.
    assert ">idm</a>" not in admin.get(reverse("portal:client_list")).content.decode()
    assert "idm" in admin.get(reverse("portal:command", args=[command_id])).content.decode()
    page = admin.get(reverse("portal:client_detail", args=["idm"])).content.decode()
    assert 'id="client-deleted"' in page
    assert reverse("portal:client_rotate", args=["idm"]) not in page


def test_a_deleted_clients_key_is_refused_by_the_api(admin, client_a) -> None:
    admin.post(reverse("portal:client_delete", args=["idm"]))
    response = HttpClient().get("/hermod/rest/command/poll/1", **client_a.headers)
    assert response.status_code == 401


def test_a_deleted_client_cannot_be_brought_back_by_rotation_or_reuse_of_its_id(
    admin, client_a
) -> None:
    admin.post(reverse("portal:client_delete", args=["idm"]))
    assert admin.post(reverse("portal:client_rotate", args=["idm"])).status_code == 404
    assert (
        admin.post(reverse("portal:client_enabled", args=["idm"]), {"enabled": "true"}).status_code
        == 404
    )
    response = admin.post(reverse("portal:client_create"), {"client_id": "idm", "group": "smartid"})
    assert response.status_code == 400
    assert Client.objects.get(client_id="idm").key_hash == ""


def test_a_client_with_commands_in_progress_is_not_deleted(admin, client_a) -> None:
    invitation_create(actor=Actor(name="x"), client=client_a.client, spec=provision_spec("u1"))
    response = admin.post(reverse("portal:client_delete", args=["idm"]), follow=True)
    assert "1 command(s) in progress" in response.content.decode()
    assert Client.objects.get(client_id="idm").deleted_at is None


def test_an_operator_may_not_delete_a_client(operator, client_a) -> None:
    assert operator.post(reverse("portal:client_delete", args=["idm"])).status_code == 403
    assert Client.objects.get(client_id="idm").deleted_at is None


def test_a_group_whose_client_was_deleted_keeps_it_and_says_why(admin, client_a) -> None:
    _finished_command(client_a)
    admin.post(reverse("portal:client_delete", args=["idm"]))
    response = admin.post(reverse("portal:group_delete", args=["smartid"]), follow=True)
    assert "1 client, 1 command" in response.content.decode()
    assert Group.objects.filter(name="smartid").exists()


def test_an_import_naming_a_deleted_client_is_refused_whole(admin, client_a) -> None:
    admin.post(reverse("portal:client_delete", args=["idm"]))
    text = (
        b"allowed-clients:\n  - client-id: idm\n    key: " + b"k" * 40 + b"\n    group: smartid\n"
    )
    response = admin.post(
        reverse("portal:clients_import"),
        {"file": SimpleUploadedFile("c.yml", text, content_type="application/yaml")},
    )
    assert response.status_code == 400
    assert "was deleted" in response.content.decode()
    assert Client.objects.get(client_id="idm").key_hash == ""


def test_an_operator_may_not_open_a_key_page(operator, client_a) -> None:
    assert operator.get(reverse("portal:client_key", args=["idm"])).status_code == 403


def test_a_key_waiting_for_one_admin_is_not_shown_to_another(admin, client_a, django_user_model):
    posted = admin.post(reverse("portal:client_rotate", args=["idm"]))
    other = django_user_model.objects.create_user("bob-admin", password="x" * 20)
    other.groups.add(AuthGroup.objects.get_or_create(name=ADMIN_GROUP)[0])
    http = HttpClient()
    http.force_login(other)
    page = http.get(posted["Location"])
    assert page.context.get("issued") is None
    assert "shown once and is gone" in page.content.decode()
    assert admin.get(posted["Location"]).context["issued"].key
