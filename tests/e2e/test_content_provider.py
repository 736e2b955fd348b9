"""Content ids resolved by the client's content provider (docs/PROTOCOL.md §13), end to end:
gunicorn, Celery workers on Redis, PostgreSQL, a real local provider and the reference device."""

import hashlib
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from hermod_core.emulator.device import Device, DeviceError
from tests.api_client import Api
from tests.e2e.content_provider import JPEG, PNG, ContentProvider, image
from tests.e2e.receiver import Receiver
from tests.e2e.steps import make_client
from tests.matchers import PROVISIONED
from tests.seeds import provisioning_command
from tests.stack import Hermod

pytestmark = pytest.mark.services


@pytest.fixture
def provider() -> Iterator[ContentProvider]:
    provider = ContentProvider().start()
    yield provider
    provider.stop()


def _eventually(action: Any, timeout: float = 30.0) -> Any:
    """``action()`` once it stops raising DeviceError NO_MESSAGE / returning nothing."""
    deadline = time.time() + timeout
    while True:
        try:
            result = action()
            if result:
                return result
        except DeviceError as exc:
            if exc.code != "NO_MESSAGE" or time.time() > deadline:
                raise
        if time.time() > deadline:
            raise AssertionError("nothing came within the timeout")
        time.sleep(0.2)


def _stored_body(stack: Hermod, command_id: str) -> dict[str, Any]:
    out = stack.manage(
        "shell", "-c",
        f"import json; from hermod_core.models import Command; "
        f"print(json.dumps(Command.objects.get(pk={int(command_id)}).body))",
    )  # fmt: skip
    return json.loads(out.strip().splitlines()[-1])


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_card_and_auth_images_come_from_the_provider_and_the_device_shows_them(
    stack: Hermod, receiver: Receiver, provider: ContentProvider, tmp_path: Path
) -> None:
    provider.basic_auth = "hermod:pr0vider"
    card_id, auth_id = f"PROV:{uuid.uuid4()}", f"AUTH:{uuid.uuid4()}"
    provider.contents = {
        card_id: {
            "data": [
                {"key": "front", **image(JPEG, "image/jpeg")},
                {"key": "back", **image(PNG, "image/png")},
            ]
        },
        auth_id: image(PNG, "image/png"),
    }
    provider.fail_next = 1  # the first call fails: the worker retries
    client = make_client(
        stack, receiver, group="content",
        content_provider_url=provider.url, content_provider_basic_auth="hermod:pr0vider",
    )  # fmt: skip
    body = provisioning_command()
    body["provCommand"]["profile"]["visualData"] = {"contentId": card_id}
    created = client.create("provision", body)
    device = Device(tmp_path / "device")
    outcome = _eventually(lambda: device.enroll(created["destinations"][0]["uri"]))
    assert outcome.body == PROVISIONED
    assert provider.problems == []
    assert {r["body"]["contentId"] for r in provider.requests} == {card_id}
    assert len(provider.requests) == 2
    (profile,) = device.profiles
    assert [(i["key"], i["content_type"], i["sha256"]) for i in profile.visual_data] == [
        ("front", "image/jpeg", _sha(JPEG)),
        ("back", "image/png", _sha(PNG)),
    ]
    # The stored command keeps the id; only the device got the images.
    assert _stored_body(stack, created["commandId"])["profile"]["visualData"] == {
        "contentId": card_id
    }

    auth = client.create(
        "authenticate",
        {"authCommand": {"profileid": profile.profile_id, "params": {
            "description": [{"key": "picture", "description": "Is this your login picture?",
                             "content_type": "application/hermod+content-id", "data": auth_id,
                             "visible": True}],
            "format": "jws"}}},
    )  # fmt: skip
    (answered,) = _eventually(device.run_once)
    assert answered.body == {"state": "COMPLETED"}
    callbacks = receiver.wait_for(2)
    assert [c.body["state"] for c in callbacks] == ["COMPLETED", "COMPLETED"]
    assert callbacks[1].body["commandId"] == auth["commandId"]
    item = _stored_body(stack, auth["commandId"])["params"]["description"][0]
    assert item["data"] == auth_id
    assert item["content_type"] == "application/hermod+content-id"

    shown = subprocess.run(
        [sys.executable, "-m", "hermod_core.emulator.cli", "show", "--state",
         str(tmp_path / "device")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    line = json.loads(shown.stdout)
    assert [i["sha256"] for i in line["visualData"]] == [_sha(JPEG), _sha(PNG)]
    assert line["shown"][-1]["key"] == "picture"
    assert line["shown"][-1]["content_type"] == "image/png"
    assert line["shown"][-1]["sha256"] == _sha(PNG)


def test_a_failing_provider_ends_the_command_failed_with_its_callback_and_the_device_sees_nothing(
    stack: Hermod, receiver: Receiver, provider: ContentProvider
) -> None:
    provider.fail_always = True
    client = make_client(stack, receiver, group="content-down",
                         content_provider_url=provider.url)  # fmt: skip
    body = provisioning_command()
    body["provCommand"]["profile"]["visualData"] = {"contentId": f"PROV:{uuid.uuid4()}"}
    created = client.create("provision", body)
    destination = created["destinations"][0]
    token = destination["uri"].rsplit("token=", 1)[1]
    box = requests.get(
        destination["location"].rsplit("/", 1)[0],
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    assert box.status_code == 200
    assert box.json()["messages"] == []  # hidden while the provider is asked
    (callback,) = receiver.wait_for(1, timeout=60)
    assert callback.body["state"] == "FAILED"
    assert callback.body["failure"]["code"] == "CONTENT_PROVIDER_FAILED"
    assert "HTTP 500" in callback.body["failure"]["message"]
    assert len(provider.requests) == 3  # HERMOD_CONTENT_ATTEMPTS
    assert client.poll(created["commandId"]) == callback.body


def test_a_content_id_without_a_provider_is_refused(stack: Hermod, receiver: Receiver) -> None:
    client: Api = make_client(stack, receiver, group="no-provider")
    body = provisioning_command()
    body["provCommand"]["profile"]["visualData"] = {"contentId": f"PROV:{uuid.uuid4()}"}
    response = client.command("provision", body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "NO_CONTENT_PROVIDER"
    assert response.json()["error"]["field"] == "provCommand.profile.visualData.contentId"


def test_an_auth_image_placeholder_is_no_longer_refused_as_bad_base64(
    stack: Hermod, receiver: Receiver, provider: ContentProvider
) -> None:
    client = make_client(stack, receiver, group="placeholder", content_provider_url=provider.url)
    response = client.command(
        "authenticate",
        {"commandHeader": {"to": [str(uuid.uuid4())]}, "authCommand": {"params": {
            "description": [{"key": "picture", "content_type": "application/hermod+content-id",
                             "data": f"AUTH:{uuid.uuid4()}"}]}}},
    )  # fmt: skip
    # The body is accepted; the unknown profile is what answers 404.
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "PROFILE_NOT_FOUND"
