"""The README's curl round trip is true: its authenticate body, sent to `@alice`, reaches the
phone, and the poll answer has the members the README names."""

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.api_client import Api
from tests.e2e.steps import provision
from tests.seeds import provisioning_command

pytestmark = pytest.mark.django_db(transaction=True)

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_request() -> dict[str, Any]:
    section = README.read_text().split("## A round trip with curl", 1)[1]
    body = re.search(r"-d '(\{.*?\})'", section, re.S)
    assert body, "the README's round trip lost its request body"
    return json.loads(body.group(1))


def test_the_readme_round_trip_authenticates_alice(api_a: Api, device: Any) -> None:
    enrollment = provisioning_command()
    enrollment["provCommand"]["userid"] = "alice"
    provision(api_a, device, enrollment)

    created = api_a.create("authenticate", readme_request())
    assert created["state"] == "IN_PROGRESS"
    assert [d["to"] for d in created["destinations"]] == ["@alice"]
    (outcome,) = device.run_once()
    assert outcome.body == {"state": "COMPLETED"}

    polled = api_a.poll(created["commandId"])
    assert polled["commandType"] == "AUTH"
    assert polled["externalId"] == "login-42"
    assert polled["state"] == "COMPLETED"
    assert polled["verification"] == "VERIFIED"
    assert polled["authResponse"]["code"] == 0
    assert polled["authResponse"]["result"]["contenttype"] == "jws"
