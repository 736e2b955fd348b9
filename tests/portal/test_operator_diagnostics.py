"""Operator diagnostics in the console (issue 16 item 8): a test callback is not a failed
callback, and the audit log reads as sentences with links to what it is about."""

import re
from datetime import timedelta

from django.urls import reverse

from hermod_core.models import AuditEvent, CallbackDelivery, DeliveryState
from hermod_core.services.audit import Actor, audit_record
from hermod_core.services.clients import client_rotate_key
from tests.factories import exhausted_deliveries, failed_test_callback


def test_a_failed_test_callback_does_not_count_as_a_failed_callback(operator, client_a) -> None:
    exhausted_deliveries(client_a.client, 1)
    failed_test_callback(client_a.client)
    dashboard = operator.get(reverse("portal:dashboard"))
    assert dashboard.context["stats"].callbacks_exhausted == 1
    listing = operator.get(reverse("portal:callbacks"))
    assert listing.context["exhausted"] == 1
    assert len(listing.context["deliveries"]) == 1


def test_resend_all_leaves_test_callbacks_alone(admin, client_a) -> None:
    (real,) = exhausted_deliveries(client_a.client, 1)
    test = failed_test_callback(client_a.client)
    admin.post(reverse("portal:callback_resend_all"))
    assert CallbackDelivery.objects.get(pk=real.pk).state == DeliveryState.PENDING
    assert CallbackDelivery.objects.get(pk=test.pk).state == DeliveryState.EXHAUSTED


def test_audit_details_are_readable_and_targets_are_links(operator, client_a) -> None:
    client_rotate_key(client=client_a.client, actor=Actor.system("cli"), grace=timedelta(hours=1))
    audit_record(
        actor=Actor.system("cli"),
        action="clients.import",
        target_type="client",
        details={"created": ["gw", "idm2"], "updated": [], "notes": None},
    )
    page = operator.get(reverse("portal:audit")).content.decode()
    assert "grace seconds:</span> 3600" in page
    assert re.search(r"old key valid until:</span> \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC<", page)
    assert "created:</span> gw, idm2" in page
    assert "updated:</span> none" in page
    assert "{&#x27;" not in page
    assert "{'" not in page
    client_url = reverse("portal:client_detail", args=["idm"])
    assert f'<a href="{client_url}" class="audit-target">client idm</a>' in page
    group_url = reverse("portal:group", args=["smartid"])
    assert f'<a href="{group_url}">smartid</a>' in page


def test_an_audit_target_without_a_page_is_plain_text(operator, db) -> None:
    AuditEvent.objects.create(
        actor="x", action="command.cancel", target_type="command", target_id="not-a-number"
    )
    AuditEvent.objects.create(actor="x", action="signin", target_type="account", target_id="bob")
    page = operator.get(reverse("portal:audit")).content.decode()
    assert "command not-a-number" in page
    assert "account bob" in page
    assert 'class="audit-target"' not in page
