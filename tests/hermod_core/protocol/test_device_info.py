"""Device-reported information (ping ``deviceinfo``/``profileinfo``, the provisioning payload's
``deviceinfo``): flat maps of bounded strings, anything else refused with a named rule."""

import json
from typing import Any

import pytest

from hermod_core.protocol.answers import (
    MAX_INFO_KEY_CHARS,
    MAX_INFO_MEMBERS,
    MAX_INFO_VALUE_CHARS,
    MAX_PROFILEINFO_ENTRIES,
    AnswerRejected,
    Envelope,
    validate_ping,
)

# The shapes of seed 000 (Smart ID Desktop App): deviceinfo and one profileinfo entry.
SEED_DEVICEINFO = {
    "operatingsystem": "Windows 10 Enterprise 22H2",
    "name": "DESKTOP-4711",
    "model": "Smart ID Desktop App 1.9.2",
}
SEED_PROFILEINFO = {
    "guid": "6b0c4f7e2a1d9c8b7a6f5e4d3c2b1a09",
    "name": "TestProfile",
    "issuer": "nexus-cod1",
    "pid": "3051e9f3-0e4d-436b-a512-2e18d8afe134",
    "activated": "2024-05-02T09:13:00Z",
    "certificates": "ab12cd34,ef56ab78",
}


def ping(data: Any) -> Envelope:
    result = {"contenttype": "json", "data": json.dumps(data)}
    raw = {"responseHeader": {"inReplyTo": "x"}, "pingResponse": {"code": 0, "result": result}}
    return Envelope(in_reply_to="x", code=0, result=result, raw=raw)


def test_the_seed_shapes_of_deviceinfo_and_profileinfo_are_accepted() -> None:
    result = validate_ping(ping({"deviceinfo": SEED_DEVICEINFO, "profileinfo": [SEED_PROFILEINFO]}))
    assert result.device_info == SEED_DEVICEINFO
    assert result.profile_info == [SEED_PROFILEINFO]


def test_a_ping_answer_without_information_reports_none() -> None:
    result = validate_ping(ping({}))
    assert (result.device_info, result.profile_info) == (None, None)


def test_numbers_and_booleans_are_kept_as_their_json_spelling() -> None:
    result = validate_ping(
        ping({"deviceinfo": {"build": 22631, "rooted": False, "scale": 1.5}, "profileinfo": []})
    )
    assert result.device_info == {"build": "22631", "rooted": "false", "scale": "1.5"}
    assert result.profile_info == []


def test_a_member_named_like_a_dict_method_is_just_a_member() -> None:
    result = validate_ping(ping({"deviceinfo": {"items": "x", "keys": "y", "values": "z"}}))
    assert result.device_info == {"items": "x", "keys": "y", "values": "z"}


def test_the_bounds_themselves_are_accepted() -> None:
    info = {f"k{i:0{MAX_INFO_KEY_CHARS - 1}d}": "v" * MAX_INFO_VALUE_CHARS for i in range(32)}
    assert len(info) == MAX_INFO_MEMBERS
    entries = [SEED_PROFILEINFO] * MAX_PROFILEINFO_ENTRIES
    result = validate_ping(ping({"deviceinfo": info, "profileinfo": entries}))
    assert result.device_info == info
    assert result.profile_info is not None
    assert len(result.profile_info) == MAX_PROFILEINFO_ENTRIES


BAD_DEVICEINFO = {
    "a string": "Pixel 8",
    "a list": ["Pixel 8"],
    "a nested object": {"name": {"first": "Pixel"}},
    "a list value": {"name": ["Pixel"]},
    "a null value": {"name": None},
    "too many members": {f"k{i}": "v" for i in range(MAX_INFO_MEMBERS + 1)},
    "a long key": {"k" * (MAX_INFO_KEY_CHARS + 1): "v"},
    "an empty key": {"": "v"},
    "a key with a space": {"device name": "v"},
    "a long value": {"name": "v" * (MAX_INFO_VALUE_CHARS + 1)},
    "a control character": {"name": "Pixel\x1b[31m"},
}


@pytest.mark.parametrize("value", BAD_DEVICEINFO.values(), ids=BAD_DEVICEINFO.keys())
def test_a_deviceinfo_that_is_not_a_flat_map_of_short_strings_is_refused(value: Any) -> None:
    with pytest.raises(AnswerRejected) as refused:
        validate_ping(ping({"deviceinfo": value}))
    assert refused.value.code == "DEVICEINFO_INVALID"


BAD_PROFILEINFO = {
    "an object": SEED_PROFILEINFO,
    "a string": "TestProfile",
    "a list of strings": ["TestProfile"],
    "a nested entry": [{**SEED_PROFILEINFO, "certificates": ["ab12", "cd34"]}],
    "too many entries": [SEED_PROFILEINFO] * (MAX_PROFILEINFO_ENTRIES + 1),
    "an entry with too many members": [{f"k{i}": "v" for i in range(MAX_INFO_MEMBERS + 1)}],
}


@pytest.mark.parametrize("value", BAD_PROFILEINFO.values(), ids=BAD_PROFILEINFO.keys())
def test_a_profileinfo_that_is_not_a_bounded_list_of_flat_maps_is_refused(value: Any) -> None:
    with pytest.raises(AnswerRejected) as refused:
        validate_ping(ping({"profileinfo": value}))
    assert refused.value.code == "PROFILEINFO_INVALID"
