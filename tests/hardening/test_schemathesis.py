"""Schemathesis against the served OpenAPI document (docs/PROTOCOL.md §2 "OpenAPI", §11, §12).

Every documented operation is called in-process (WSGI) with generated requests, valid and invalid,
authenticated with a real client key. Whatever is sent, the server must never answer 5xx, and every
answer must be one the document lists: its status code, content type, headers and body schema.
The stateful test follows links the way a real integration does (create a command, then poll or
cancel it, open its box with the destination's token, fetch and answer the message).

The checks are chosen on purpose: schemathesis' "positive data acceptance" and "negative data
rejection" are left out, because the server validates more than JSON Schema can say (a `certreq`
must be a parseable PKCS#10, key lengths depend on the key type, `tbs` items need `data`) and
treats JSON `null` as an absent member everywhere (docs/PROTOCOL.md §4.1 leniency). Runs are
derandomized with no example database, so CI sees the same inputs every time.
"""

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from django.test import Client as HttpClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err, Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from hermod_core.protocol.commands import ENDPOINTS
from hermod_core.services.audit import Actor
from hermod_core.services.clients import client_create
from hermod_core.wsgi import application
from tests.seeds import provisioning_command

DOCUMENT = "/hermod/v3/api-docs"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    ignored_auth,
]
FUZZ = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _configure(schema: Any, *, max_examples: int) -> Any:
    schema.config.generation.update(
        max_examples=max_examples,
        deterministic=True,
        database="none",
        # The key is sent by the test; generated X-Api-Key values would only ever be refused.
        with_security_parameters=False,
    )
    return schema


# The document exactly as served, loaded through the WSGI application.
SCHEMA = _configure(schemathesis.openapi.from_wsgi(DOCUMENT, application), max_examples=50)


def _linked_document() -> dict[str, Any]:
    """The served document plus OpenAPI links from a provisioning answer to what follows it.

    drf-spectacular writes no links; these say what docs/PROTOCOL.md §4.2 and §6 say: the answer's
    `commandId` is what poll and cancel take, and its destination's `bid`, `mid` and the token in
    its plug-out URI open the box.
    """
    response = HttpClient().get(f"{DOCUMENT}?format=json", HTTP_HOST="localhost")
    assert response.status_code == 200
    document: dict[str, Any] = json.loads(response.content)
    destination = "$response.body#/destinations/0"
    token = f"{destination}/uri#regex:[?&]token=([^&]+)"
    box = {"bid": f"{destination}/bid", "query.token": token}
    message = {**box, "mid": f"{destination}/mid"}
    command_id = {"command_id": "$response.body#/commandId"}
    links = {
        "Poll": {"operationId": "command_poll", "parameters": command_id},
        "Cancel": {"operationId": "command_cancel", "parameters": command_id},
        "ListBox": {"operationId": "mailbox_list", "parameters": box},
        "FetchMessage": {"operationId": "message_fetch", "parameters": message},
        "AnswerMessage": {"operationId": "message_answer", "parameters": message},
    }
    operation = document["paths"]["/hermod/rest/command/provision"]["post"]
    operation["responses"]["200"]["links"] = links
    return document


def _linked_schema() -> Any:
    schema = schemathesis.openapi.from_dict(_linked_document())
    schema.app = application
    operations = {
        "command_provision",
        "command_poll",
        "command_cancel",
        "mailbox_list",
        "message_fetch",
        "message_answer",
    }
    return _configure(schema.include(operation_id=list(operations)), max_examples=50)


LINKED = _linked_schema()


@LINKED.hook
def before_generate_body(context: Any, strategy: st.SearchStrategy[Any]) -> Any:
    # Random provisioning bodies almost never carry a parseable certreq; mixing in the seed
    # command lets the stateful test get past creation and reach the mailbox.
    operation = context.operation
    if operation is not None and operation.path.endswith("/provision"):
        return st.one_of(strategy, st.builds(provisioning_command))
    return strategy


@pytest.fixture(autouse=True)
def _keep_the_test_connection() -> Iterator[None]:
    """What Django's test client does around each request: the WSGI app is called directly here,
    and Django's end-of-request cleanup would otherwise close the test's PostgreSQL connection
    (it closes a connection inside a transaction it did not open)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_key(db: None, no_rate_limits: None) -> str:
    """A real client's X-Api-Key (rate limits off: schemathesis sends thousands of requests)."""
    return client_create(
        client_id="fuzzer", group_name="fuzz", actor=Actor.system("test")
    ).api_key_header


@SCHEMA.parametrize()
@FUZZ
def test_every_operation_answers_as_documented_and_never_with_a_5xx(case: Any, fuzz_key: str):
    case.call_and_validate(headers={"X-Api-Key": fuzz_key}, checks=CHECKS)


def test_every_documented_operation_can_be_fuzzed() -> None:
    """An operation schemathesis cannot read would silently drop out of the test above."""
    results = list(SCHEMA.get_all_operations())
    errors = [result.err() for result in results if isinstance(result, Err)]
    assert not errors
    labels = {result.ok().label for result in results if isinstance(result, Ok)}
    expected = {f"POST /hermod/rest/command/{name}" for name in ENDPOINTS}
    assert expected <= labels
    assert {
        "GET /hermod/rest/command/poll/{command_id}",
        "POST /hermod/rest/command/cancel/{command_id}",
        "GET /hermod/rest/ms/{bid}",
        "GET /hermod/rest/ms/{bid}/{mid}",
        "POST /hermod/rest/ms/{bid}/{mid}",
        "GET /hermod/rest/util/generateclient/{client_id}",
    } <= labels


def test_command_poll_cancel_and_mailbox_sequences_answer_as_documented(fuzz_key: str) -> None:
    seen: Counter[tuple[str, int]] = Counter()

    class Sequences(LINKED.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": {"X-Api-Key": fuzz_key}}

        def after_call(self, response: Any, case: Any) -> None:
            seen[(case.operation.label, response.status_code)] += 1

        def validate_response(
            self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any
        ) -> None:
            case.validate_response(
                response, checks=CHECKS, headers=kwargs.get("headers"), transport_kwargs=kwargs
            )

    Sequences.run(
        settings=settings(
            max_examples=60,
            stateful_step_count=6,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
    )
    # The links were followed: commands were created, polled, cancelled and their boxes opened.
    assert seen[("POST /hermod/rest/command/provision", 200)]
    assert seen[("GET /hermod/rest/command/poll/{command_id}", 200)]
    assert seen[("POST /hermod/rest/command/cancel/{command_id}", 200)]
    reached_box = {label for (label, status) in seen if label.startswith("GET /hermod/rest/ms")}
    assert reached_box, seen


# Path parameters that route to a real view (values that exist are not needed: the limiter answers
# before any lookup).
_PATH_PARAMETERS = {
    "command_id": "1",
    "bid": "00000000-0000-4000-8000-000000000001",
    "mid": "00000000-0000-4000-8000-000000000002",
}
_LIMITED = [
    *((f"/hermod/rest/command/{name}", "POST") for name in sorted(ENDPOINTS)),
    ("/hermod/rest/command/poll/{command_id}", "GET"),
    ("/hermod/rest/command/cancel/{command_id}", "POST"),
    ("/hermod/rest/ms/{bid}", "GET"),
    ("/hermod/rest/ms/{bid}/{mid}", "GET"),
    ("/hermod/rest/ms/{bid}/{mid}", "POST"),
]


@pytest.mark.parametrize(("path", "method"), _LIMITED)
def test_a_rate_limited_answer_is_documented_for_every_operation_that_gives_one(
    db: None, settings: Any, path: str, method: str
) -> None:
    settings.HERMOD_RATE_LIMIT_AUTH_FAILURES = 1
    settings.HERMOD_RATE_LIMIT_NOT_FOUND = 1
    wrong_key = {"X-Api-Key": "d3Jvbmc="}  # "wrong"
    # One failure from this address spends both budgets: a wrong key, an unknown box.
    poll = SCHEMA["/hermod/rest/command/poll/{command_id}"]["GET"]
    assert poll.Case(path_parameters={"command_id": "1"}).call(headers=wrong_key).status_code == 401
    box = SCHEMA["/hermod/rest/ms/{bid}"]["GET"].Case(
        path_parameters={"bid": _PATH_PARAMETERS["bid"]}
    )
    assert box.call().status_code == 404
    operation = SCHEMA[path][method]
    parameters = {
        name: _PATH_PARAMETERS[name] for name in _PATH_PARAMETERS if f"{{{name}}}" in path
    }
    if operation.body:
        case = operation.Case(path_parameters=parameters, body={}, media_type="application/json")
    else:
        case = operation.Case(path_parameters=parameters)
    response = case.call(headers=wrong_key)
    assert response.status_code == 429
    case.validate_response(
        response,
        checks=[status_code_conformance, response_schema_conformance, response_headers_conformance],
    )
