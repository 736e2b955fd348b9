"""Callback deliveries in trouble, and resending them."""

from django.urls import reverse

from hermod_core.models import AuditEvent, CallbackDelivery, DeliveryState
from tests.factories import exhausted_deliveries


def test_the_list_shows_exhausted_and_failing_deliveries(
    operator, client_a, django_assert_max_num_queries
):
    exhausted = exhausted_deliveries(client_a.client, 5)
    CallbackDelivery.objects.filter(pk=exhausted[0].pk).update(state=DeliveryState.PENDING)
    with django_assert_max_num_queries(5):
        response = operator.get(reverse("portal:callbacks"))
    page = response.content.decode()
    assert page.count("HTTP 503") == 5
    assert response.context["exhausted"] == 4
    assert "Resend all exhausted (4)" in page


def test_resend_all_counts_every_exhausted_delivery_not_only_those_listed(
    operator, client_a, monkeypatch
):
    monkeypatch.setattr("portal.views.callbacks.SHOWN", 1)
    exhausted_deliveries(client_a.client, 3)
    response = operator.get(reverse("portal:callbacks"))
    assert len(response.context["deliveries"]) == 1
    assert "Resend all exhausted (3)" in response.content.decode()


def test_resending_one_delivery(operator, operator_user, client_a):
    delivery = exhausted_deliveries(client_a.client)[0]
    response = operator.post(reverse("portal:callback_resend", args=[delivery.pk]))
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.PENDING
    assert delivery.max_attempts == 10
    event = AuditEvent.objects.get(action="callback.resend")
    assert (event.actor_user, event.target_id) == (operator_user, str(delivery.event_id))


def test_resending_all_exhausted_deliveries(operator, client_a):
    exhausted_deliveries(client_a.client, 3)
    operator.post(reverse("portal:callback_resend_all"))
    assert set(CallbackDelivery.objects.values_list("state", flat=True)) == {DeliveryState.PENDING}
    assert (
        AuditEvent.objects.filter(action="callback.resend", actor_user__isnull=False).count() == 3
    )


def test_an_unknown_delivery_is_404(operator, db):
    assert operator.post(reverse("portal:callback_resend", args=[999])).status_code == 404
