"""The command page stays true (issue 16 item 6): it follows the callback to its end, hides a
spent QR link, and shows the device's answer decoded beside the body, secrets masked."""

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from django.urls import reverse

from hermod_core.crypto import jws
from hermod_core.crypto.jwk import jwk_from_public_key
from hermod_core.lifecycle import State
from hermod_core.models import CallbackDelivery, Command, DeliveryState, Message
from hermod_core.protocol.commands import parse_command_request
from hermod_core.services.commands import command_create, command_transition
from tests.factories import complete, make_profile
from tests.hermod_core.crypto.vectors import SEED_CERTIFICATE_B64
from tests.seeds import provisioning_command

STOP = 286  # htmx: stop polling


def _provisioning(client_a) -> Command:
    return command_create(
        client=client_a.client, request=parse_command_request("provision", provisioning_command())
    )


@pytest.mark.parametrize(
    ("callback", "polled_status"),
    [
        (DeliveryState.PENDING, 200),
        (DeliveryState.WAITING, 200),
        (DeliveryState.DELIVERED, STOP),
        (DeliveryState.EXHAUSTED, STOP),
        (DeliveryState.SKIPPED, STOP),
    ],
)
def test_the_live_view_polls_until_the_callback_ends(
    operator, client_a, callback, polled_status
) -> None:
    command = _provisioning(client_a)
    complete(command, make_profile(client_a.client))
    CallbackDelivery.objects.filter(command=command).update(state=callback)
    live = operator.get(reverse("portal:command_live", args=[command.pk]), HTTP_HX_REQUEST="true")
    assert live.status_code == polled_status
    assert f'data-callback-state="{callback}"' in live.content.decode()
    page = operator.get(reverse("portal:command", args=[command.pk])).content.decode()
    assert ('hx-trigger="every 2s"' in page) is (polled_status == 200)


def test_the_qr_link_shows_only_while_the_code_can_be_used(operator, client_a) -> None:
    command = _provisioning(client_a)
    url = reverse("portal:command", args=[command.pk])
    assert 'id="show-qr"' in operator.get(url).content.decode()
    Message.objects.filter(command=command).update(state="WITHDRAWN")
    assert 'id="show-qr"' not in operator.get(url).content.decode()
    live = operator.get(reverse("portal:command_live", args=[command.pk]), HTTP_HX_REQUEST="true")
    assert 'id="show-qr"' not in live.content.decode()


def test_a_finished_provisioning_has_no_qr_link(operator, client_a) -> None:
    command = _provisioning(client_a)
    complete(command, make_profile(client_a.client))
    page = operator.get(reverse("portal:command", args=[command.pk])).content.decode()
    assert 'id="show-qr"' not in page


def test_the_answer_is_shown_decoded_beside_the_body_with_secrets_masked(
    operator, client_a
) -> None:
    profile = make_profile(client_a.client, "alice")
    command = command_create(
        client=client_a.client,
        request=parse_command_request(
            "authenticate",
            {"commandHeader": {"to": ["@alice"]}, "authCommand": {"params": {"format": "jws"}}},
        ),
    )
    live_url = reverse("portal:command_live", args=[command.pk])
    page = operator.get(reverse("portal:command", args=[command.pk])).content.decode()
    assert "No answer yet" in page

    key = ec.generate_private_key(ec.SECP256R1())
    token = jws.sign_compact(
        {"tbs": ["digest"], "nonce": str(command.pk)},
        key,
        "ES256",
        {"x5c": [SEED_CERTIFICATE_B64], "jwk": jwk_from_public_key(key.public_key())},
    )
    answer = {
        "responseHeader": {"inReplyTo": "https://h/ms/b/m", "status": 200},
        "authResponse": {"code": 0, "result": {"contenttype": "jws", "data": token}},
        "boxtoken": "must-not-show",
    }
    assert command_transition(command_id=command.pk, to=State.COMPLETED, answer=answer)
    live = operator.get(live_url, HTTP_HX_REQUEST="true").content.decode()
    # The answer arrives live, out of band, beside the body.
    assert 'id="command-exchange" hx-swap-oob="true"' in live
    page = operator.get(reverse("portal:command", args=[command.pk])).content.decode()
    for html in (live, page):
        assert "JWS header" in html
        assert "&quot;nonce&quot;: &quot;" + str(command.pk) in html
        assert "valid&quot;: &quot;2018-04-12 12:07 UTC to 2019-04-12 12:07 UTC" in html
        assert "must-not-show" not in html
        assert "******** (masked)" in html
    assert 'id="command-body"' in page
    assert profile.user.userid == "alice"
