"""The audit page: every console action with its actor, filterable."""

from django.urls import reverse

from hermod_core.models import AuditEvent


def test_the_audit_log_lists_and_filters_events(admin, client_a, django_assert_max_num_queries):
    admin.post(reverse("portal:client_enabled", args=["idm"]), {"enabled": "false"})
    admin.post(reverse("portal:client_create"), {"client_id": "gw", "group": "smartid"})
    url = reverse("portal:audit")
    with django_assert_max_num_queries(7):
        page = admin.get(url).content.decode()
    assert "client.disable" in page
    assert "alice-admin" in page
    created = admin.get(url, {"action": "client.create"}).context["page"]
    assert {(e.action, e.target_id, e.actor) for e in created} == {
        ("client.create", "gw", "alice-admin"),
        ("client.create", "idm", "test"),
    }
    assert {e.actor for e in admin.get(url, {"actor": "alice"}).context["page"]} == {"alice-admin"}
    assert {e.target_id for e in admin.get(url, {"target": "gw"}).context["page"]} == {"gw"}
    assert admin.get(url, {"group": "smartid"}).context["page"].paginator.count >= 2
    assert admin.get(url, {"since": "2999-01-01T00:00"}).context["page"].paginator.count == 0


def test_console_changes_record_person_and_address(admin, admin_user, client_a):
    admin.post(
        reverse("portal:client_enabled", args=["idm"]),
        {"enabled": "false"},
        REMOTE_ADDR="198.51.100.4",
    )
    event = AuditEvent.objects.get(action="client.disable")
    assert (event.actor, event.actor_user, event.ip, event.group.name) == (
        "alice-admin",
        admin_user,
        "198.51.100.4",
        "smartid",
    )
