"""Content resolution through the HTTP API and the reference device on a live server, the
worker's service called directly (the stack tests in test_content_provider run it in Celery):
visibility, merging at fetch, signatures over resolved tbs, expiry and failures."""

from datetime import timedelta
from typing import Any

import pytest
import requests
from django.utils import timezone

from hermod_core.models import CallbackDelivery, Command, ContentResolution
from hermod_core.selectors.console import command_get, command_timeline
from hermod_core.services.content import content_resolve
from hermod_core.services.expiry import commands_expire
from tests.api_client import Api
from tests.e2e.content_provider import PNG, ContentProvider, image
from tests.e2e.steps import provision
from tests.seeds import provisioning_command

pytestmark = pytest.mark.django_db(transaction=True)

PICTURE_ID = "AUTH:0b8f1f5e-4c57-4d7e-9b55-1c3b0f0a7d11"
TEXT = b"Transfer 500 EUR to ACME"


@pytest.fixture
def provider(client_a) -> Any:
    provider = ContentProvider(contents={PICTURE_ID: image(PNG, "image/png")}).start()
    client_a.client.content_provider_url = provider.url
    client_a.client.save(update_fields=["content_provider_url"])
    yield provider
    provider.stop()


def _box(api: Api, destination: dict[str, Any]) -> requests.Response:
    token = destination["uri"].rsplit("token=", 1)[1]
    return api.session.get(
        destination["location"].rsplit("/", 1)[0], headers={"Authorization": f"Bearer {token}"}
    )


def _fetch(api: Api, destination: dict[str, Any]) -> requests.Response:
    token = destination["uri"].rsplit("token=", 1)[1]
    return api.session.get(destination["location"], headers={"Authorization": f"Bearer {token}"})


def test_the_message_is_hidden_until_resolved_then_merged_while_the_command_keeps_the_id(
    api_a, provider
) -> None:
    provider.contents["PROV:card"] = {"data": [{"key": "front", **image(PNG, "image/png")}]}
    body = provisioning_command()
    body["provCommand"]["profile"]["visualData"] = {"contentId": "PROV:card"}
    created = api_a.create("provision", body)
    (destination,) = created["destinations"]
    assert _box(api_a, destination).json()["messages"] == []
    assert _fetch(api_a, destination).status_code == 404
    assert content_resolve(command_id=int(created["commandId"])) == "DONE"
    assert [m["mid"] for m in _box(api_a, destination).json()["messages"]] == [destination["mid"]]
    fetched = _fetch(api_a, destination).json()
    assert fetched["provCommand"]["profile"]["visualData"] == {
        "data": [{"key": "front", **image(PNG, "image/png")}]
    }
    stored = Command.objects.get(pk=created["commandId"]).body
    assert stored["profile"]["visualData"] == {"contentId": "PROV:card"}
    assert provider.requests[0]["body"] == {"contentId": "PROV:card"}


def test_a_content_id_to_be_signed_is_signed_and_verified_as_resolved(
    api_a, device, provider
) -> None:
    result = provision(api_a, device)
    provider.contents["AUTH:tbs"] = image(TEXT, "text/plain")
    created = api_a.create(
        "sign",
        {"signCommand": {"profileid": result["profile"]["id"], "params": {
            "description": [{"key": "picture", "content_type": "application/hermod+content-id",
                             "data": PICTURE_ID, "visible": True}],
            "tbs": [{"key": "tbs", "content_type": "application/hermod+content-id",
                     "data": "AUTH:tbs", "visible": True}],
            "format": "jws"}}},
    )  # fmt: skip
    assert device.run_once() == []  # nothing visible yet
    content_resolve(command_id=int(created["commandId"]))
    (outcome,) = device.run_once()
    assert outcome.body == {"state": "COMPLETED"}, outcome.body
    assert device.profiles[0].shown[-1]["key"] == "picture"
    assert api_a.poll(created["commandId"])["state"] == "COMPLETED"


def test_a_command_that_expired_while_resolving_abandons_its_job_without_asking(
    api_a, provider
) -> None:
    body = provisioning_command()
    body["provCommand"]["profile"]["visualData"] = {"contentId": "PROV:late"}
    created = api_a.create("provision", body)
    Command.objects.filter(pk=created["commandId"]).update(expires_at=timezone.now())
    commands_expire(batch=10)
    assert content_resolve(command_id=int(created["commandId"])) == "ABANDONED"
    assert provider.requests == []
    assert Command.objects.get(pk=created["commandId"]).state == "EXPIRED"


def test_an_unusable_answer_fails_the_command_at_once_with_its_callback(api_a, provider) -> None:
    provider.contents["PROV:bad"] = {"data": "not a list"}
    body = provisioning_command()
    body["provCommand"]["profile"]["visualData"] = {"contentId": "PROV:bad"}
    created = api_a.create("provision", body)
    assert content_resolve(command_id=int(created["commandId"])) == "FAILED"
    assert len(provider.requests) == 1
    command = Command.objects.get(pk=created["commandId"])
    assert (command.state, command.failure_code) == ("FAILED", "CONTENT_PROVIDER_FAILED")
    assert "1 to 2 images" in command.failure_reason
    callback = CallbackDelivery.objects.get(command=command)
    assert callback.state == "PENDING"
    assert callback.body["failure"]["code"] == "CONTENT_PROVIDER_FAILED"


def test_a_transient_failure_is_retried_but_never_past_the_lifespan(api_a, provider) -> None:
    provider.fail_always = True
    body = provisioning_command()
    body["provCommand"]["profile"]["visualData"] = {"contentId": "PROV:down"}
    created = api_a.create("provision", body)
    assert content_resolve(command_id=int(created["commandId"])) == "PENDING"
    job = ContentResolution.objects.get(command_id=created["commandId"])
    assert (job.attempts, job.last_error) == (1, "the provider answered HTTP 500 for PROV:down")
    # Due again, but the message's lifespan ends before another attempt could help.
    Command.objects.filter(pk=created["commandId"]).update(
        lifespan=1, created_at=timezone.now() - timedelta(seconds=0.5)
    )
    ContentResolution.objects.filter(pk=job.pk).update(next_attempt_at=timezone.now())
    assert content_resolve(command_id=int(created["commandId"])) == "FAILED"
    assert Command.objects.get(pk=created["commandId"]).state == "FAILED"


def test_the_console_timeline_shows_the_content_provider_step(api_a, provider) -> None:
    provider.fail_always = True
    body = provisioning_command()
    body["provCommand"]["profile"]["visualData"] = {"contentId": "PROV:console"}
    created = api_a.create("provision", body)
    content_resolve(command_id=int(created["commandId"]))
    command = command_get(int(created["commandId"]))
    assert command is not None
    (event,) = [e for e in command_timeline(command).events if "Content" in e.title]
    assert (event.title, event.detail) == (
        "Content provider: PENDING",
        "1 attempt(s); the provider answered HTTP 500 for PROV:console",
    )
