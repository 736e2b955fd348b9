"""The device's HTTP conversation (docs/PROTOCOL.md §6) and its state folder, against an in-memory
transport: tokens where the server looks for them, answers posted to the message location,
and state changed only after the server answered COMPLETED."""

from __future__ import annotations

import json
import stat
import uuid
from typing import Any
from urllib.parse import quote

import pytest

from hermod_core.emulator.device import Device, DeviceError, parse_target
from hermod_core.emulator.state import STATE_FILE
from tests.hermod_core.crypto.vectors import SEED_CERTIFICATE_B64
from tests.hermod_core.emulator.messages import PUBLIC_URL, FakeMailbox, ProvisionCase

COMPLETED = (200, {"state": "COMPLETED"})
# The server gives the new box's token in its answer to the accepted provisioning (§6).
PROVISIONED = (200, {"state": "COMPLETED", "boxtoken": "box-token"})


def plugout(box_url: str, token: str) -> str:
    return f"com.nexusgroup.plugout:///?url={quote(box_url, safe='')}&token={token}"


@pytest.fixture
def server() -> FakeMailbox:
    return FakeMailbox()


@pytest.fixture
def device(make_device, server) -> Device:
    return make_device(session=server.session())


def serve_provisioning(server: FakeMailbox, answer: Any = PROVISIONED) -> ProvisionCase:
    """A temporary box holding one provisioning message, as the server shows it."""
    case = ProvisionCase()
    box = case.location.rsplit("/", 1)[0]
    listing = {"mid": str(case.mid), "location": case.location, "commandType": "PROV"}
    server.routes[("GET", box)] = (200, {"bid": str(case.bid), "messages": [listing]})
    server.routes[("GET", case.location)] = (200, case.message)
    server.routes[("POST", case.location)] = answer
    return case


def test_enroll_opens_the_plugout_uri_and_stores_the_profile(device, server, make_device) -> None:
    case = serve_provisioning(server)
    box = case.location.rsplit("/", 1)[0]
    outcome = device.enroll(plugout(box, "one-time"))
    assert (outcome.mid, outcome.command_type, outcome.http_status) == (str(case.mid), "PROV", 200)
    assert outcome.as_json() == {
        "mid": str(case.mid),
        "commandType": "PROV",
        "status": 200,
        "state": "COMPLETED",
    }
    assert [(r.method, r.url) for r in server.requests] == [
        ("GET", box),
        ("GET", case.location),
        ("POST", case.location),
    ]
    assert {r.headers["Authorization"] for r in server.requests} == {"Bearer one-time"}
    (answer,) = server.posted()
    assert answer["responseHeader"]["inReplyTo"] == case.location
    (profile,) = device.profiles
    assert (profile.profile_id, profile.boxtoken) == (str(case.profile_id), "box-token")

    again = Device(device.state.directory)  # a restarted app remembers everything
    assert [p.profile_id for p in again.profiles] == [str(case.profile_id)]
    assert (
        again.profiles[0].keys["signer"].private_key_pem == profile.keys["signer"].private_key_pem
    )
    assert again.attestation_key.private_numbers() == device.attestation_key.private_numbers()
    stored = again.profiles[0].keys["signer"]
    assert stored.private_key() is stored.private_key()  # parsed once, not per signature
    mode = (device.state.directory / STATE_FILE).stat().st_mode
    assert stat.S_IMODE(mode) == 0o600  # it holds private keys


def test_tokens_can_travel_as_the_query_parameter(make_device, server) -> None:
    case = serve_provisioning(server)
    device = make_device(session=server.session(), token_in_query=True)
    device.enroll(case.location, token="one-time")
    assert all(r.url.endswith("?token=one-time") for r in server.requests)
    assert all("Authorization" not in r.headers for r in server.requests)


def test_a_refused_answer_stores_nothing_and_reports_the_error(device, server) -> None:
    error = {"error": {"code": "NONCE_MISMATCH", "message": "The answer's nonce is not ..."}}
    case = serve_provisioning(server, answer=(422, error))
    outcome = device.enroll(case.location, token="one-time")
    assert outcome.http_status == 422
    assert not outcome.completed
    assert outcome.as_json()["error"] == error["error"]
    assert device.profiles == []


def test_a_failed_command_stores_nothing(device, server) -> None:
    case = serve_provisioning(server, answer=(200, {"state": "FAILED"}))
    assert device.enroll(case.location, token="t").state == "FAILED"
    assert device.profiles == []


def test_a_dead_token_is_a_device_error_with_the_servers_code(device, server) -> None:
    box = f"{PUBLIC_URL}/{uuid.uuid4()}"
    with pytest.raises(DeviceError) as error:
        device.enroll(plugout(box, "used"))
    assert (error.value.code, error.value.http_status) == ("NOT_FOUND", 404)


def test_an_empty_box_is_a_device_error(device, server) -> None:
    box = f"{PUBLIC_URL}/{uuid.uuid4()}"
    server.routes[("GET", box)] = (200, {"bid": box[-36:], "messages": []})
    with pytest.raises(DeviceError) as error:
        device.enroll(plugout(box, "t"))
    assert error.value.code == "NO_MESSAGE"


def test_the_seeds_plugout_uri_is_understood() -> None:
    # Lower-case escapes exactly as in the product documentation (seed 001).
    uri = (
        "com.nexusgroup.plugout:///?url=https%3a%2f%2fext-cod1.test.nexusgroup.com%3A20400"
        "%2fhermod%2Frest%2Fms%2F99678846-836a-42f2-99e4-1de31bca857f"
        "&token=2dff6242-34d8-4d31-8ac8-c53a21341a03"
    )
    target = parse_target(uri)
    assert target.box_url == (
        "https://ext-cod1.test.nexusgroup.com:20400/hermod/rest/ms/"
        "99678846-836a-42f2-99e4-1de31bca857f"
    )
    assert target.token == "2dff6242-34d8-4d31-8ac8-c53a21341a03"
    assert target.location is None
    assert parse_target(uri, "explicit").token == "explicit"


def test_a_message_url_takes_its_token_from_the_option_or_the_query() -> None:
    location = f"{PUBLIC_URL}/{uuid.uuid4()}/{uuid.uuid4()}"
    assert parse_target(location, "t").location == location
    from_query = parse_target(f"{location}?token=q")
    assert (from_query.location, from_query.token) == (location, "q")


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("com.nexusgroup.plugout:///?token=t", "BAD_URI"),
        ("com.nexusgroup.plugout:///?url=https%3A%2F%2Fh%2Fms%2Fb", "NO_TOKEN"),
        ("ftp://hermod.example.com/ms/b/m", "BAD_URI"),
        (f"{PUBLIC_URL}/b/m", "NO_TOKEN"),
    ],
)
def test_malformed_targets_are_refused(text, code) -> None:
    with pytest.raises(DeviceError) as error:
        parse_target(text)
    assert error.value.code == code


def provisioned(device: Device, server: FakeMailbox) -> str:
    """Enroll the device; returns its permanent box URL (served empty unless a test fills it)."""
    case = serve_provisioning(server)
    device.enroll(case.location, token="one-time")
    box = device.profiles[0].boxurl
    server.routes[("GET", box)] = (200, {"bid": box[-36:], "messages": []})
    server.requests.clear()
    return box


def queue(server: FakeMailbox, box: str, kind: str, body_key: str, body: dict[str, Any]) -> str:
    """Put one message into the served box; returns its location."""
    mid = str(uuid.uuid4())
    location = f"{box}/{mid}"
    listing = server.routes[("GET", box)][1]
    listing["messages"].append({"mid": mid, "location": location, "commandType": kind})
    header = {"mid": mid, "location": location, "commandId": "7", "commandType": kind}
    server.routes[("GET", location)] = (200, {"messageHeader": header, body_key: body})
    server.routes[("POST", location)] = COMPLETED
    return location


def test_run_once_answers_with_the_box_token_and_stores_certificates(device, server) -> None:
    box = provisioned(device, server)
    certificate = {"keyid": "signer", "keystate": "ACTIVE", "data": SEED_CERTIFICATE_B64}
    location = queue(server, box, "CERT", "certCommand", {"certificates": [certificate]})
    (outcome,) = device.run_once()
    assert outcome.completed
    assert {r.headers["Authorization"] for r in server.requests} == {"Bearer box-token"}
    assert server.posted() == [
        {"responseHeader": {"inReplyTo": location, "status": 200}, "certResponse": {"code": 0}}
    ]
    assert device.profiles[0].certificates == {"signer": SEED_CERTIFICATE_B64}
    assert Device(device.state.directory).profiles[0].certificates == {
        "signer": SEED_CERTIFICATE_B64
    }


def test_run_once_skips_a_closed_box_and_a_vanished_message(device, server) -> None:
    box = provisioned(device, server)
    withdrawn = queue(server, box, "PING", "pingCommand", {})
    del server.routes[("GET", withdrawn)]  # answered by another device meanwhile: 404
    assert device.run_once() == []
    del server.routes[("GET", box)]  # the profile was deleted on the server: 404
    assert device.run_once() == []


def test_a_completed_delete_forgets_the_profile_a_failed_one_keeps_it(device, server) -> None:
    box = provisioned(device, server)
    location = queue(server, box, "DELETE", "deleteCommand", {"confirmed": "true"})
    server.routes[("POST", location)] = (200, {"state": "FAILED"})
    device.run_once()
    assert len(device.profiles) == 1
    server.routes[("GET", box)][1]["messages"].clear()
    queue(server, box, "DELETE", "deleteCommand", {"confirmed": "true"})
    device.run_once()
    assert device.profiles == []


def test_pin_reset_nonce_and_new_admin_key_are_remembered(device, server) -> None:
    box = provisioned(device, server)
    queue(server, box, "SPIN", "spinCommand", {"smartcardid": "card-1"})
    new_key = "ab" * 24
    queue(server, box, "EPIN", "epinCommand", {"encryptednonce": "00ff", "newadminkey": new_key})
    assert [o.command_type for o in device.run_once()] == ["SPIN", "EPIN"]
    spin_answer = server.posted()[0]["spinResponse"]
    profile = device.profiles[0]
    assert json.loads(spin_answer["result"]["data"]) == {"nonce": profile.spin_nonce}
    assert profile.vscinfo["adminkey"] == new_key


def test_an_app_link_opens_its_message_over_https_with_its_token() -> None:
    target = parse_target(
        "acme-id://hermod.example.com:20400/hermod/rest/ms/b/m?title=My+title&redirect=x%3A%2F%2F"
        "&token=t0k"
    )
    assert (target.box_url, target.location, target.token) == (
        None,
        "https://hermod.example.com:20400/hermod/rest/ms/b/m",
        "t0k",
    )
