"""The device's bodies (docs/PROTOCOL.md §6), built from plain values: the box listing and one
message, member for member as the documentation's examples show them."""

from datetime import UTC, datetime, timedelta

from hermod_core.protocol.mailbox import (
    Assignment,
    BoxEntry,
    DeviceMessage,
    box_body,
    message_body,
    message_expires,
)

PUBLIC_URL = "https://hermod.example.com:20400/hermod/rest/ms"
BID = "d07292df-f75c-4534-8567-642953b6d887"
MID = "071c4a7d-d064-470a-aaab-ec9e1b14c9f1"
SOON = datetime(2025, 6, 2, 10, 5, tzinfo=UTC)
LATER = SOON + timedelta(minutes=10)


def test_a_waiting_message_expires_with_whichever_deadline_comes_first() -> None:
    assert message_expires(state="WAITING", expires_at=SOON, command_expires_at=LATER) == SOON
    assert message_expires(state="WAITING", expires_at=LATER, command_expires_at=SOON) == SOON


def test_a_fetched_message_lives_as_long_as_its_command() -> None:
    assert message_expires(state="FETCHED", expires_at=SOON, command_expires_at=LATER) == LATER


def test_the_box_lists_each_message_with_its_location_type_and_deadline() -> None:
    body = box_body(
        public_url=PUBLIC_URL,
        bid=BID,
        entries=[BoxEntry(mid=MID, command_type="SIGN", expires=SOON)],
    )
    assert body == {
        "bid": BID,
        "messages": [
            {
                "mid": MID,
                "location": f"{PUBLIC_URL}/{BID}/{MID}",
                "commandType": "SIGN",
                "expires": "2025-06-02T10:05:00Z",
            }
        ],
    }


def test_an_empty_box_lists_no_messages() -> None:
    assert box_body(public_url=PUBLIC_URL, bid=BID, entries=[]) == {"bid": BID, "messages": []}


def test_a_message_has_its_header_then_the_command_object_under_its_type_key() -> None:
    command = {"profileid": "p", "params": {"tbs": []}}
    message = DeviceMessage(
        mid=MID, bid=BID, command_id=18092, command_type="SIGN", expires=SOON, command=command
    )
    body = message_body(public_url=PUBLIC_URL, message=message)
    assert list(body) == ["messageHeader", "signCommand"]
    assert body["messageHeader"] == {
        "mid": MID,
        "bid": BID,
        "location": f"{PUBLIC_URL}/{BID}/{MID}",
        "commandId": "18092",
        "commandType": "SIGN",
        "fqdn": "hermod.example.com",
        "expires": "2025-06-02T10:05:00Z",
    }
    assert body["signCommand"] is command


def test_a_provisioning_message_names_the_profile_and_box_it_assigns_but_no_token() -> None:
    message = DeviceMessage(
        mid=MID,
        bid=BID,
        command_id=1,
        command_type="PROV",
        expires=SOON,
        command={"nonce": "n"},
        assigned=Assignment(profile_id="3051e9f3", box_id="a1b2"),
    )
    body = message_body(public_url=PUBLIC_URL, message=message)
    assert list(body) == ["messageHeader", "provCommand", "assigned"]
    assert body["assigned"] == {"profileid": "3051e9f3", "boxurl": f"{PUBLIC_URL}/a1b2"}
    assert "boxtoken" not in str(body)
