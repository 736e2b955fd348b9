"""A signature and its replay posted at the same moment, on PostgreSQL with two web processes:
exactly one command completes (docs/PROTOCOL.md §6.3, issue 10). No look-up races here — the unique
constraint of AcceptedSignature decides, and its IntegrityError is SIGNATURE_REPLAYED, never the
provisioning's PROFILE_ID_TAKEN nor a 500."""

import base64
import copy
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from hermod_core.emulator.device import Device
from tests.api_client import Api
from tests.e2e.steps import make_client
from tests.matchers import PROVISIONED
from tests.seeds import provisioning_command

pytestmark = pytest.mark.services

ROUNDS = 8


def _post(location: str, token: str, body: dict[str, Any], start: threading.Barrier) -> Any:
    start.wait(timeout=10)
    return requests.post(
        location, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def _sign(client: Api, profile_id: str) -> dict[str, Any]:
    tbs = [{"data": base64.b64encode(b"Pay 100 EUR").decode()}]
    body = {"signCommand": {"profileid": profile_id, "params": {"tbs": tbs, "format": "pkcs7"}}}
    created: dict[str, Any] = client.create("sign", body)
    return created


def test_a_signature_and_its_replay_racing_complete_exactly_one_command(
    stack, receiver, tmp_path: Path
) -> None:
    client = make_client(stack, receiver)
    device = Device(tmp_path / "phone")
    created = client.create("provision", provisioning_command())
    assert device.enroll(created["destinations"][0]["uri"]).body == PROVISIONED
    (profile,) = device.profiles
    with ThreadPoolExecutor(max_workers=2) as pool:
        for _ in range(ROUNDS):
            first, second = _sign(client, profile.profile_id), _sign(client, profile.profile_id)
            location = first["destinations"][0]["location"]
            answer = device.build_answer(location, device.fetch(location, profile.boxtoken)).body
            replay = copy.deepcopy(answer)
            replay["responseHeader"]["inReplyTo"] = second["destinations"][0]["location"]
            start = threading.Barrier(2)
            futures = [
                pool.submit(_post, location, profile.boxtoken, answer, start),
                pool.submit(
                    _post, second["destinations"][0]["location"], profile.boxtoken, replay, start
                ),
            ]
            responses = [future.result() for future in futures]
            assert sorted(r.status_code for r in responses) == [200, 422], [
                r.text for r in responses
            ]
            (refused,) = [r for r in responses if r.status_code == 422]
            assert refused.json()["error"]["code"] == "SIGNATURE_REPLAYED"
            states = sorted(client.poll(c["commandId"])["state"] for c in (first, second))
            assert states == ["COMPLETED", "FAILED"]
