"""Steps the end-to-end, hardening and deployment tests share: a new client of a running stack,
a device provisioned through its plug-out URI, and the checks that after faults every callback
arrived once and no command is stuck."""

import itertools
import time
from typing import Any

from tests.api_client import Api
from tests.e2e.receiver import Receiver
from tests.hermod_core.crypto.vectors import SEED_DUMMY_CSR_B64
from tests.matchers import PROVISIONED
from tests.seeds import provisioning_command
from tests.stack import Hermod

_client_numbers = itertools.count()


def make_client(stack: Hermod, receiver: Receiver, group: str = "smartid", **options: str) -> Api:
    """A new client of ``stack`` (``manage.py hermod_client create``) calling back ``receiver``;
    ``options`` are more ``hermod_client create`` options (``callback_basic_auth=...``)."""
    key = stack.create_client(
        f"client-{next(_client_numbers)}-{int(time.time() * 1000)}",
        group=group,
        callback_url=receiver.url,
        **options,
    )
    return Api(stack.url, key)


def provision(api: Api, device: Any, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """Provision the device through its plug-out URI; returns the poll body."""
    created = api.create("provision", body or provisioning_command())
    (destination,) = created["destinations"]
    outcome = device.enroll(destination["uri"])
    assert outcome.http_status == 200, outcome.body
    assert outcome.body == PROVISIONED
    return api.poll(created["commandId"])


def key_request(keyid: str, keytype: str, keylength: int, usage: str = "SIG") -> dict[str, Any]:
    mechanism = {("EC", 256): "ES256", ("EC", 384): "ES384"}.get((keytype, keylength), "RS256")
    return {
        "keyid": keyid,
        "usage": usage,
        "keytypeprios": [
            {"keytype": keytype, "keylength": str(keylength), "responsemechanism": mechanism}
        ],
        "storageprios": ["APP"],
        "keystate": "ACTIVE",
        "certreq": SEED_DUMMY_CSR_B64,
    }


def assert_all_delivered_once(receiver: Receiver, command_ids: list[str]) -> None:
    received = receiver.wait_for(len(command_ids), timeout=90)
    by_command = {}
    for item in received:
        by_command.setdefault(item.body["commandId"], set()).add(item.event_id)
    assert sorted(by_command) == sorted(command_ids)
    assert all(len(events) == 1 for events in by_command.values()), by_command
    for event_id, copies in receiver.by_event().items():
        assert len({c.raw for c in copies}) == 1, f"event {event_id} changed content"


def finish_commands(client: Api, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        created = client.create("provision", provisioning_command())
        client.create(f"cancel/{created['commandId']}")
        ids.append(created["commandId"])
    return ids


def assert_none_stuck(client: Api, ids: list[str]) -> None:
    for command_id in ids:
        assert client.poll(command_id)["state"] != "IN_PROGRESS"


def start_well_inside_window(window: int, margin: float = 30) -> None:
    """Rate limits use fixed windows: start spending a budget well inside one, so that no
    reset lands in the middle of the count (waiting for the next window when this one ends
    within ``margin`` seconds)."""
    left = window - time.time() % window
    if left < margin:
        time.sleep(left + 0.5)
