"""The small answers of docs/PROTOCOL.md §6.3 (ping, startpinreset, endpinreset, certificate,
delete) and unknown types, checked with the server's own envelope parser and validators."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from hermod_core.emulator.device import Device, Faults
from hermod_core.protocol.answers import parse_envelope, validate_ping, validate_spin
from tests.hermod_core.emulator.messages import PUBLIC_URL, ProvisionCase


def message(kind: str, body_key: str, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    location = f"{PUBLIC_URL}/{uuid.uuid4()}/{uuid.uuid4()}"
    header = {"location": location, "commandId": "42", "commandType": kind}
    return location, {"messageHeader": header, body_key: body}


@pytest.fixture
def device(make_device) -> Device:
    device = make_device()
    case = ProvisionCase()
    profile = device.build_answer(case.location, case.message).new_profile
    assert profile is not None
    device.state.put(profile)
    return device


@pytest.mark.parametrize("flag", ["true", True])
def test_ping_reports_device_and_profile_info(device, flag) -> None:
    location, msg = message("PING", "pingCommand", {"deviceinfo": flag, "profileinfo": flag})
    answer = device.build_answer(location, msg)
    result = answer.body["pingResponse"]["result"]
    assert result["contenttype"] == "json"
    data = validate_ping(parse_envelope(answer.body, "pingResponse"))
    assert data.device_info == device.deviceinfo
    assert data.profile_info is not None
    (info,) = data.profile_info
    profile = device.profiles[0]
    assert info == {
        "guid": profile.guid,
        "name": "TestProfile",
        "issuer": "nexus-cod1",
        "pid": profile.profile_id,
        "activated": profile.activated,
        "certificates": "",
    }


def test_ping_without_flags_reports_nothing(device) -> None:
    location, msg = message("PING", "pingCommand", {"deviceinfo": "false"})
    data = json.loads(device.build_answer(location, msg).body["pingResponse"]["result"]["data"])
    assert data == {}


def test_startpinreset_answers_a_fresh_hex_nonce(device) -> None:
    location, msg = message("SPIN", "spinCommand", {"smartcardid": "card-1"})
    first = device.build_answer(location, msg)
    second = device.build_answer(location, msg)
    data = validate_spin(parse_envelope(first.body, "spinResponse"))
    assert data == {"nonce": first.spin_nonce}
    assert len(data["nonce"]) == 32
    assert first.spin_nonce != second.spin_nonce


@pytest.mark.parametrize(
    ("kind", "body_key", "body"),
    [
        ("EPIN", "epinCommand", {"encryptednonce": "00ff"}),
        ("CERT", "certCommand", {"certificates": []}),
        ("DELETE", "deleteCommand", {"confirmed": "true"}),
    ],
)
def test_code_only_answers(device, kind, body_key, body) -> None:
    location, msg = message(kind, body_key, body)
    answer = device.build_answer(location, msg)
    response_key = body_key.replace("Command", "Response")
    assert answer.body == {
        "responseHeader": {"inReplyTo": location, "status": 200},
        response_key: {"code": 0},
    }
    assert parse_envelope(answer.body, response_key).code == 0


def test_an_unconfirmed_delete_does_not_forget_the_profile(device) -> None:
    location, msg = message("DELETE", "deleteCommand", {"confirmed": "false"})
    assert not device.build_answer(location, msg).delete_profile
    location, msg = message("DELETE", "deleteCommand", {})
    assert device.build_answer(location, msg).delete_profile  # confirmed defaults to true


def test_an_unknown_command_type_is_not_supported(device) -> None:
    location, msg = message("FOO", "fooCommand", {})
    assert device.build_answer(location, msg).body["fooResponse"] == {"code": 3}


def test_a_message_without_its_command_object_is_a_device_error(device) -> None:
    location, msg = message("PING", "pingCommand", {})
    del msg["pingCommand"]
    assert device.build_answer(location, msg).body["pingResponse"] == {"code": 4}


def test_wrong_inreplyto_applies_to_every_answer(make_device) -> None:
    device = make_device(faults=Faults(wrong_inreplyto=True))
    location, msg = message("PING", "pingCommand", {})
    in_reply_to = device.build_answer(location, msg).body["responseHeader"]["inReplyTo"]
    assert in_reply_to != location
