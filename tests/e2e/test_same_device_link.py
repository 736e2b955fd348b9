"""The same-device link (``appLink``): a user on the phone itself opens the request in the app,
against the running stack with the reference device."""

import re
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from hermod_core.emulator.device import Device
from tests.e2e.receiver import Receiver
from tests.e2e.steps import make_client
from tests.matchers import PROVISIONED
from tests.seeds import provisioning_command
from tests.stack import Hermod

pytestmark = pytest.mark.services


def test_result_bodies_offer_the_app_link_and_the_app_opens_the_request_with_it(
    stack: Hermod, receiver: Receiver, tmp_path: Path
) -> None:
    client = make_client(stack, receiver, group="same-device")
    created = client.create("provision", provisioning_command())
    (destination,) = created["destinations"]
    host = stack.url.removeprefix("http://")
    bid, mid = destination["bid"], destination["mid"]
    token = destination["uri"].rsplit("token=", 1)[1]
    assert destination["appLink"] == (
        f"personal://{host}/hermod/rest/ms/{bid}/{mid}?title=&redirect=&token={token}"
    )
    assert client.poll(created["commandId"])["destinations"][0]["appLink"] == destination["appLink"]
    # The integrator fills title and redirect as the app's documentation shows.
    link = destination["appLink"].replace(
        "?title=&redirect=",
        f"?title={quote_plus('My title')}&redirect={quote('my-redirect-URL://', safe='')}",
    )
    assert re.search(r"\?title=My\+title&redirect=my-redirect-URL%3A%2F%2F&token=", link)
    device = Device(tmp_path / "phone", app_link_http=True)  # the test stack has no TLS
    outcome = device.enroll(link)
    assert outcome.body == PROVISIONED
    (callback,) = receiver.wait_for(1)
    assert callback.body["state"] == "COMPLETED"
    assert callback.body["destinations"][0]["appLink"] == destination["appLink"]
