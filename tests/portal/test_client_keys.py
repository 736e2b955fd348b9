"""Client keys in the console (issue 16 item 8): rotation with a grace period the admin
chooses, disabling only after a confirmation."""

import re

import pytest
from django.urls import reverse

from hermod_core.models import AuditEvent, Client
from hermod_core.services.credentials import api_key_hash
from tests.factories import Persona

pytestmark = pytest.mark.django_db

POLL = "/hermod/rest/command/poll/1"


def test_the_console_rotation_takes_the_grace_in_hours(admin, client, client_a: Persona) -> None:
    response = admin.post(
        reverse("portal:client_rotate", args=["idm"]), {"grace_hours": "3"}, follow=True
    )
    assert response.redirect_chain == [(reverse("portal:client_key", args=["idm"]), 302)]
    assert "The old key keeps working until" in response.content.decode()
    assert client.get(POLL, **client_a.headers).status_code == 404
    page = admin.get(reverse("portal:client_detail", args=["idm"])).content.decode()
    assert 'id="old-key-grace"' in page
    event = AuditEvent.objects.filter(action="client.rotate_key").latest("id")
    assert event.details["grace_seconds"] == 3 * 3600
    assert event.actor_user is not None


def test_the_console_refuses_a_grace_out_of_range(admin, client_a: Persona) -> None:
    response = admin.post(reverse("portal:client_rotate", args=["idm"]), {"grace_hours": "721"})
    assert response.status_code == 400
    assert "less than or equal to 720" in response.content.decode()
    assert Client.objects.get(client_id="idm").key_hash == api_key_hash(client_a.key)


def test_disable_and_rotate_ask_for_confirmation(admin, client_a: Persona) -> None:
    page = admin.get(reverse("portal:client_detail", args=["idm"])).content.decode()
    (disable_form,) = re.findall(r'<form[^>]*clients/idm/enabled"[^>]*>', page)
    assert 'data-confirm="Disable idm?' in disable_form
    assert 'id="rotate-form" data-confirm="Rotate the key of idm?' in page
