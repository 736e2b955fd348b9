"""Every command end to end through HTTP, with the reference device as the peer (docs/PROTOCOL.md
§4–§8).

Create → device fetch → answer → COMPLETED → poll body, for each command type; the mobile and the
desktop stories of the product documentation.
"""

import base64
import copy
from datetime import timedelta
from typing import Any

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.utils import timezone

from hermod_core.emulator.device import DeviceError
from hermod_core.emulator.testca import issue_certificate, make_self_signed_ca
from hermod_core.models import Certificate, Command, Key, Mailbox, Profile
from hermod_core.services.expiry import commands_expire
from tests.api_client import token_of
from tests.e2e.steps import key_request, provision
from tests.matchers import PROVISIONED
from tests.seeds import certificate_command, provisioning_command

pytestmark = pytest.mark.django_db(transaction=True)


def two_key_body(userid: str = "userA") -> dict[str, Any]:
    body = provisioning_command()
    body["provCommand"]["userid"] = userid
    body["provCommand"]["profile"]["keygenrequests"] = [
        key_request("signer", "RSA", 2048, "SIG"),
        key_request("auth", "EC", 256, "AUTH"),
    ]
    return body


def test_the_seed_provisioning_completes_and_poll_shows_the_profile(api_a, device) -> None:
    result = provision(api_a, device)
    assert result["state"] == "COMPLETED"
    assert result["commandType"] == "PROV"
    assert result["externalId"] == "my-id"
    assert result["provResponse"]["code"] == 0
    assert result["responseHeader"]["inReplyTo"] == result["destinations"][0]["location"]
    profile = result["profile"]
    assert profile["userid"] == "userA"
    (key,) = profile["keys"]
    assert key["keyid"] == "signer"
    stored = Profile.objects.get(pk=profile["id"])
    assert stored.attestation_thumbprint
    assert profile["boxurl"].endswith(str(stored.mailbox.pk))
    assert device.profiles[0].profile_id == profile["id"]


@pytest.mark.parametrize(
    ("keytype", "keylength"),
    [("RSA", 2048), ("RSA", 3072), ("RSA", 4096), ("EC", 256), ("EC", 384)],
)
def test_each_key_type_and_size_is_provisioned(api_a, device, keytype, keylength) -> None:
    body = provisioning_command()
    body["provCommand"]["profile"]["keygenrequests"] = [key_request("k", keytype, keylength)]
    result = provision(api_a, device, body)
    key = Key.objects.get(profile_id=result["profile"]["id"])
    assert (key.keytype, key.keylength) == (keytype, keylength)


def test_the_mobile_story_of_the_documentation(api_a, device) -> None:
    """Provision with a dummy CSR, get the re-keyed CSR, certify it, send it to @userA."""
    result = provision(api_a, device)
    (key,) = result["profile"]["keys"]
    csr = x509.load_der_x509_csr(base64.b64decode(key["certreq"]))
    assert csr.is_signature_valid
    ca_key, ca_cert = make_self_signed_ca("Test CA")
    certificate = issue_certificate(csr.public_bytes(serialization.Encoding.DER), ca_key, ca_cert)
    data = base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()
    body = certificate_command()
    body["certCommand"]["profileid"] = result["profile"]["id"]
    body["certCommand"]["certificates"][0]["data"] = data
    created = api_a.create("certificate", body)
    assert created["destinations"][0]["pid"] == result["profile"]["id"]
    (outcome,) = device.run_once()
    assert outcome.body == {"state": "COMPLETED"}
    polled = api_a.poll(created["commandId"])
    assert polled["state"] == "COMPLETED"
    assert polled["certResponse"] == {"code": 0}
    assert device.profiles[0].certificates["signer"] == data
    stored = Certificate.objects.get(profile_id=result["profile"]["id"])
    assert stored.source == "COMMAND"


def test_the_seed_certificate_command_is_refused_for_a_key_it_does_not_certify(
    api_a, device
) -> None:
    result = provision(api_a, device)
    body = certificate_command()  # the documentation's certificate: another key entirely
    body["certCommand"]["profileid"] = result["profile"]["id"]
    response = api_a.command("certificate", body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "CERTIFICATE_KEY_MISMATCH"


@pytest.mark.parametrize("format_", ["jws", "pkcs7"])
@pytest.mark.parametrize(("command", "keytype"), [("sign", "RSA"), ("authenticate", "EC")])
def test_sign_and_authenticate_complete_with_verified_signatures(
    api_a, device, command, keytype, format_
) -> None:
    result = provision(api_a, device, two_key_body())
    key = {"sign": "signCommand", "authenticate": "authCommand"}[command]
    params: dict[str, Any] = {
        "filter": {"op": "eq", "param": "key.type", "value": keytype},
        "format": format_,
    }
    if command == "sign":
        params["tbs"] = [
            {"key": "tbs", "description": "Text to sign", "content_type": "text/plain",
             "content_encoding": "base64", "data": base64.b64encode(b"Transfer 500").decode(),
             "visible": True},
            {"key": "tbs2", "content_encoding": "base64", "data": "AAECAw=="},
        ]  # fmt: skip
    created = api_a.create(
        command,
        {"commandHeader": {"to": ["@userA"]}, key: {"profileid": result["profile"]["id"],
                                                    "params": params}},
    )  # fmt: skip
    (outcome,) = device.run_once()
    assert outcome.body == {"state": "COMPLETED"}, outcome.body
    polled = api_a.poll(created["commandId"])
    assert polled["state"] == "COMPLETED"
    answer_key = {"sign": "signResponse", "authenticate": "authResponse"}[command]
    assert polled[answer_key]["code"] == 0


def test_an_authenticate_without_tbs_gets_a_server_challenge(api_a, device) -> None:
    result = provision(api_a, device)
    created = api_a.create("authenticate", {"authCommand": {"profileid": result["profile"]["id"]}})
    body = Command.objects.get(pk=created["commandId"]).body
    (challenge,) = body["params"]["tbs"]
    assert len(base64.b64decode(challenge["data"])) == 32
    (outcome,) = device.run_once()
    assert outcome.body == {"state": "COMPLETED"}


def test_the_desktop_story(api_a, make_device) -> None:
    """Provision with desktop extensions, ping, PIN reset, delete with and without confirmation."""
    device = make_device("desktop")
    body = provisioning_command()
    body["provCommand"]["vscinfo"] = {
        "smartcardid": "card-1",
        "adminkey": "0" * 48,
        "oldadminkey": "1" * 48,
    }
    body["provCommand"]["desktopExtensions"] = [
        {"key": "provisionreader", "data": "CreateTPM"},
        {"key": "singleprofile", "data": "true"},
        {"key": "congratsmessage", "data": "Welcome!"},
    ]
    body["provCommand"]["desktopKeyProtectionLevel"] = "CONSENT"
    result = provision(api_a, device, body)
    pid = result["profile"]["id"]
    profile = Profile.objects.get(pk=pid)
    assert profile.smartcard_id == "card-1"
    assert profile.desktop_key_protection_level == "CONSENT"
    assert {"key": "congratsmessage", "data": "Welcome!"} in profile.desktop_extensions

    ping = api_a.create(
        "ping", {"pingCommand": {"deviceinfo": "true", "profileinfo": "true", "profileid": pid}}
    )
    device.run_once()
    polled = api_a.poll(ping["commandId"])
    assert polled["state"] == "COMPLETED"
    assert polled["pingResponse"]["code"] == 0

    spin = api_a.create("startpinreset", {"spinCommand": {"smartcardid": "card-1",
                                                           "profileid": pid}})  # fmt: skip
    device.run_once()
    spin_result = api_a.poll(spin["commandId"])
    assert spin_result["state"] == "COMPLETED"
    assert spin_result["spinResponse"]["result"]["data"]
    epin = api_a.create(
        "endpinreset",
        {"epinCommand": {"smartcardid": "card-1", "profileid": pid, "encryptednonce": "abcd01"}},
    )
    device.run_once()
    assert api_a.poll(epin["commandId"])["state"] == "COMPLETED"

    delete = api_a.create("delete", {"deleteCommand": {"profileid": pid, "confirmed": "true"}})
    device.run_once()
    assert api_a.poll(delete["commandId"])["state"] == "COMPLETED"
    assert Profile.objects.get(pk=pid).state == "DELETED"
    assert Mailbox.objects.get(profile_id=pid).closed_at is not None


def test_an_unconfirmed_delete_ends_at_once_and_sends_nothing(api_a, device) -> None:
    result = provision(api_a, device)
    pid = result["profile"]["id"]
    created = api_a.create(
        "delete", {"commandHeader": {"to": ["@userA"]}, "deleteCommand": {"confirmed": "false"}}
    )
    assert created["state"] == "COMPLETED"
    assert Profile.objects.get(pk=pid).state == "DELETED"
    assert device.run_once() == []
    response = api_a.command("ping", {"pingCommand": {"profileid": pid}})
    assert response.status_code == 404


def test_a_declined_command_fails_with_the_device_reason(api_a, make_device) -> None:
    created = api_a.create("provision", provisioning_command())
    outcome = make_device("decliner", decline=True).enroll(created["destinations"][0]["uri"])
    assert outcome.body == {"state": "FAILED"}
    polled = api_a.poll(created["commandId"])
    assert polled["state"] == "FAILED"
    assert polled["failure"]["code"] == "DEVICE_DECLINED"
    assert not Profile.objects.exists()


def test_a_command_to_a_user_reaches_every_active_profile_first_answer_wins(
    api_a, make_device
) -> None:
    phone, tablet = make_device("phone"), make_device("tablet")
    provision(api_a, phone)
    provision(api_a, tablet)
    created = api_a.create("ping", {"commandHeader": {"to": ["@userA"]}, "pingCommand": {}})
    assert len(created["destinations"]) == 2
    (first,) = phone.run_once()
    assert first.body == {"state": "COMPLETED"}
    assert tablet.run_once() == []  # withdrawn: its box no longer lists the message
    states = {m.state for m in Command.objects.get(pk=created["commandId"]).messages.all()}
    assert states == {"ANSWERED", "WITHDRAWN"}


def test_clients_of_one_group_share_users_and_other_groups_see_nothing(
    api_a, api_a2, api_b, device
) -> None:
    result = provision(api_a, device)
    pid = result["profile"]["id"]
    shared = api_a2.create("ping", {"commandHeader": {"to": ["@userA"]}, "pingCommand": {}})
    assert shared["destinations"][0]["pid"] == pid
    assert api_b.command("ping", {"pingCommand": {"profileid": pid}}).status_code == 404
    assert api_b.command("ping", {"commandHeader": {"to": ["@userA"]},
                                  "pingCommand": {}}).status_code == 404  # fmt: skip
    foreign = api_b.session.get(f"{api_b.base_url}/hermod/rest/command/poll/{shared['commandId']}")
    assert foreign.status_code == 404
    assert api_b.cancel(shared["commandId"]).status_code == 404
    own_of_other = api_a.session.get(
        f"{api_a.base_url}/hermod/rest/command/poll/{shared['commandId']}"
    )
    assert own_of_other.status_code == 404  # a command belongs to the client that created it


def test_cancel_withdraws_the_message_and_a_late_answer_finds_nothing(api_a, device) -> None:
    created = api_a.create("provision", provisioning_command())
    (destination,) = created["destinations"]
    message = device.fetch(destination["location"], token_of(destination))
    response = api_a.cancel(created["commandId"])
    assert response.status_code == 200
    assert response.json()["state"] == "CANCELLED"
    assert api_a.cancel(created["commandId"]).status_code == 409
    late = device.answer(destination["location"], token_of(destination), message)
    assert late.http_status == 404
    assert api_a.poll(created["commandId"])["state"] == "CANCELLED"


def test_an_answer_to_an_expired_command_finds_nothing(api_a, device) -> None:
    created = api_a.create("provision", provisioning_command())
    (destination,) = created["destinations"]
    message = device.fetch(destination["location"], token_of(destination))
    Command.objects.filter(pk=created["commandId"]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    late = device.answer(destination["location"], token_of(destination), message)
    assert late.http_status == 404  # the token died at the deadline, before any sweep
    assert commands_expire(batch=10) == 1
    assert commands_expire(batch=10) == 0
    polled = api_a.poll(created["commandId"])
    assert polled["state"] == "EXPIRED"
    assert polled["failure"]["code"] == "EXPIRED"


def test_a_second_answer_is_409(api_a, device) -> None:
    created = api_a.create("provision", provisioning_command())
    (destination,) = created["destinations"]
    message = device.fetch(destination["location"], token_of(destination))
    first = device.answer(destination["location"], token_of(destination), message)
    assert first.body == PROVISIONED
    again = device.answer(destination["location"], token_of(destination), copy.deepcopy(message))
    assert again.http_status == 409


def test_a_one_time_token_opens_only_its_own_message_even_in_a_shared_box(api_a, device) -> None:
    result = provision(api_a, device)
    pid = result["profile"]["id"]
    first = api_a.create("ping", {"pingCommand": {"profileid": pid}})["destinations"][0]
    second = api_a.create("ping", {"pingCommand": {"profileid": pid}})["destinations"][0]
    assert first["bid"] == second["bid"]  # both in the profile's permanent box
    listed = requests.get(
        f"{api_a.base_url}/hermod/rest/ms/{first['bid']}",
        headers={"Authorization": f"Bearer {token_of(first)}"},
        timeout=10,
    ).json()
    assert [m["mid"] for m in listed["messages"]] == [first["mid"]]
    other = device.fetch(second["location"], token_of(second))
    with pytest.raises(DeviceError):
        device.fetch(second["location"], token_of(first))
    answered = device.answer(first["location"], token_of(first), device.fetch(
        first["location"], token_of(first)))  # fmt: skip
    assert answered.body == {"state": "COMPLETED"}
    reused = device.answer(second["location"], token_of(first), other)
    assert reused.http_status == 404  # a used token is dead, also for its box's other messages
    again = device.answer(first["location"], token_of(first), other)
    assert again.http_status == 409
