"""The OpenAPI document (docs/PROTOCOL.md §2): valid, complete, warning-free, served with a local
Swagger UI, its examples true to their schemas, and the server's real answers true to the
document."""

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.validation import validate_schema

from hermod_core.api import schema
from hermod_core.emulator.device import Device
from hermod_core.protocol.commands import ENDPOINTS, parse_command_request
from tests.factories import Persona
from tests.matchers import PROVISIONED
from tests.openapi import (
    PREFIX,
    assert_conforms,
    generate,
    is_valid,
    operation,
    request_schema,
    resolved,
    validate,
)
from tests.seeds import certificate_command, provisioning_command

pytestmark = pytest.mark.django_db

ERROR_REF = {"$ref": "#/components/schemas/Error"}

# Every endpoint of docs/PROTOCOL.md §2 and the CA's challenge check (§10), once, under the prefix.
OPERATIONS = {
    *((f"/command/{name}", "post") for name in ENDPOINTS),
    ("/command/poll/{command_id}", "get"),
    ("/command/cancel/{command_id}", "post"),
    ("/util/generateclient/{client_id}", "get"),
    ("/ms/{bid}", "get"),
    ("/ms/{bid}/{mid}", "get"),
    ("/ms/{bid}/{mid}", "post"),
    ("/ms/{bid}/token", "post"),
    ("/ms/{bid}/push", "put"),
    ("/ms/{bid}/push", "delete"),
    ("/ca/challenge/verify", "post"),
}
# The POSTs and PUTs that carry a request body (cancel and box-token rotation carry none).
BODY_OPERATIONS = {
    (path, method)
    for path, method in OPERATIONS
    if method in ("post", "put")
    and not path.startswith("/command/cancel")
    and path != "/ms/{bid}/token"
}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return generate()


def post_json(client: Any, path: str, body: Any, **headers: Any) -> Any:
    return client.post(path, json.dumps(body), content_type="application/json", **headers)


# --- the document ------------------------------------------------------------------------------


def test_the_document_is_valid_openapi(document: dict[str, Any]) -> None:
    validate_schema(document)


def test_generating_the_document_warns_about_nothing() -> None:
    # What CI's `spectacular --validate --fail-on-warn` checks.
    GENERATOR_STATS.reset()
    generate()
    assert not GENERATOR_STATS._warn_cache
    assert not GENERATOR_STATS._error_cache


def test_it_lists_every_endpoint_once_under_the_prefix(document: dict[str, Any]) -> None:
    listed = {
        (path.removeprefix(PREFIX), method)
        for path, item in document["paths"].items()
        for method in item
    }
    assert listed == OPERATIONS
    assert all(path.startswith(f"{PREFIX}/") for path in document["paths"])


def test_the_hidden_aliases_are_still_served(client: Any) -> None:
    # Hidden from the document (schema.hide_path_aliases), not from the server (docs/PROTOCOL.md
    # §2).
    assert client.post("/command/provision").status_code == 401
    assert client.get("/ms/00000000-0000-0000-0000-000000000000").status_code == 404


@pytest.mark.parametrize(("path", "method"), sorted(OPERATIONS))
def test_every_operation_has_its_schemas(document: dict[str, Any], path: str, method: str) -> None:
    op = operation(document, path, method)
    if (path, method) in BODY_OPERATIONS:
        # The CA's check takes `csr` or `challenge` (anyOf): no single member is required, so
        # drf-spectacular does not mark its body required; the server refuses an empty one.
        if path == "/ca/challenge/verify":
            assert "required" not in op["requestBody"]
        else:
            assert op["requestBody"]["required"] is True
        assert "$ref" in op["requestBody"]["content"]["application/json"]["schema"]
    else:
        assert "requestBody" not in op
    responses = dict(op["responses"])
    if method == "delete":  # 204: nothing to describe but that it happened
        assert "content" not in responses.pop("204")
        success = None
    else:
        success = responses.pop("200")["content"]
    if success is None:
        pass
    elif path.startswith("/util/"):
        assert success["text/plain"]["schema"] == {"type": "string"}
        assert success["text/plain"]["examples"]
    else:
        assert "$ref" in success["application/json"]["schema"]
    assert responses, "no error response documented"
    for status, response in responses.items():
        assert int(status) >= 400
        assert response["content"]["application/json"]["schema"] == ERROR_REF, status
        assert response["description"]


def test_the_error_body_is_one_named_component(document: dict[str, Any]) -> None:
    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    assert error["properties"]["error"]["required"] == ["code", "message"]
    assert set(error["properties"]["error"]["properties"]) == {"code", "message", "field"}


def test_only_the_command_api_needs_the_api_key_and_the_ca_check_its_verifier(
    document: dict[str, Any],
) -> None:
    assert document["components"]["securitySchemes"]["ApiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-Api-Key",
        "description": "base64(<client-id>:<key>) (docs/PROTOCOL.md §3)",
    }
    for path, method in OPERATIONS:
        security = operation(document, path, method).get("security", [])
        expected = (
            [{"ApiKey": []}]
            if path.startswith("/command/")
            else [{"CaVerifier": []}]
            if path.startswith("/ca/")
            else []
        )
        assert security == expected, path


def test_every_enum_is_a_named_component(document: dict[str, Any]) -> None:
    # drf-spectacular would otherwise invent names such as "KeystateEnum".
    assert not [name for name in document["components"]["schemas"] if name.endswith("Enum")]


@pytest.mark.parametrize("name", ENDPOINTS)
def test_each_command_request_has_its_header_and_command_object(
    document: dict[str, Any], name: str
) -> None:
    endpoint = ENDPOINTS[name]
    request = resolved(
        request_schema(document, f"/command/{name}"), document["components"]["schemas"]
    )
    assert request["required"] == [endpoint.body_key]
    assert request["additionalProperties"] is True
    header = request["properties"]["commandHeader"]
    assert set(header["properties"]) == {"to", "lifespan", "timeout", "externalId"}
    assert request["properties"][endpoint.body_key]["additionalProperties"] is True


# --- examples ----------------------------------------------------------------------------------


def test_the_provision_example_is_the_seed_command(document: dict[str, Any]) -> None:
    assert schema.REQUEST_EXAMPLES["provision"] == provisioning_command()
    assert schema.REQUEST_EXAMPLES["certificate"] == certificate_command()


def test_the_seed_provisioning_command_validates_against_the_provision_schema(
    document: dict[str, Any],
) -> None:
    validate(document, request_schema(document, "/command/provision"), provisioning_command())


@pytest.mark.parametrize("name", ENDPOINTS)
def test_each_request_example_fits_its_schema_and_the_server_accepts_it(
    document: dict[str, Any], name: str
) -> None:
    example = schema.REQUEST_EXAMPLES[name]
    validate(document, request_schema(document, f"/command/{name}"), example)
    parse_command_request(name, example)  # raises ProtocolError if the server would refuse it


def test_every_example_in_the_document_fits_its_schema(document: dict[str, Any]) -> None:
    checked = 0
    for item in document["paths"].values():
        for op in item.values():
            media = [*op.get("requestBody", {}).get("content", {}).values()]
            media += [m for r in op["responses"].values() for m in r.get("content", {}).values()]
            for content in media:
                for example in content.get("examples", {}).values():
                    validate(document, content["schema"], example["value"], strict=True)
                    checked += 1
    assert checked > 50


@pytest.mark.parametrize(
    ("path", "change", "valid"),
    [
        ("provCommand.profile.keygenrequests.0.keytypeprios.0.keylength", 2048, True),
        ("provCommand.profile.keygenrequests.0.keytypeprios.0.keylength", "3072", True),
        ("provCommand.profile.keygenrequests.0.keytypeprios.0.keylength", "1024", False),
        ("commandHeader.lifespan", "60", True),
        ("commandHeader.lifespan", 0, False),
        ("provCommand.profile.keygenrequests.0.usage", "SIGN", False),
        ("provCommand.desktopKeyProtectionLevel", "CONSENT", True),
        ("provCommand.nonce", None, False),
        ("provCommand.somethingTheDesktopAppReads", {"kept": True}, True),
    ],
)
def test_the_provision_schema_takes_what_the_protocol_takes(
    document: dict[str, Any], path: str, change: Any, valid: bool
) -> None:
    body = provisioning_command()
    *parents, last = path.split(".")
    node: Any = body
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    if change is None:
        del node[last]
    else:
        node[last] = change
    assert is_valid(document, request_schema(document, "/command/provision"), body) is valid


@pytest.mark.parametrize(
    ("value", "valid"), [("true", True), ("false", True), (True, True), ("yes", False)]
)
def test_flags_may_be_booleans_or_their_string_spelling(
    document: dict[str, Any], value: Any, valid: bool
) -> None:
    body = {"commandHeader": {"to": ["@userA"]}, "pingCommand": {"deviceinfo": value}}
    assert is_valid(document, request_schema(document, "/command/ping"), body) is valid


# --- served ------------------------------------------------------------------------------------


def test_the_document_is_served(client: Any, document: dict[str, Any]) -> None:
    response = client.get("/hermod/v3/api-docs", {"format": "json"})
    assert response.status_code == 200
    assert json.loads(response.content)["paths"] == document["paths"]
    assert client.get("/hermod/v3/api-docs").status_code == 200  # YAML by default


def test_swagger_ui_loads_only_local_assets(client: Any) -> None:
    response = client.get("/hermod/swagger-ui/")
    assert response.status_code == 200
    html = response.content.decode()
    assert not re.findall(r"https?://", html)
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert len(assets) >= 3
    for asset in assets:
        assert asset.startswith(settings.STATIC_URL), asset
        assert finders.find(asset.removeprefix(settings.STATIC_URL)), asset


# --- real answers ------------------------------------------------------------------------------


def test_the_servers_answers_along_a_provisioning_conform_to_the_document(
    client: Any, client_a: Persona, document: dict[str, Any], tmp_path: Path
) -> None:
    created = post_json(
        client, f"{PREFIX}/command/provision", provisioning_command(), **client_a.headers
    )
    assert created.status_code == 200
    assert_conforms(document, "post", "/command/provision", created)
    (destination,) = created.json()["destinations"]
    token = parse_qs(urlsplit(destination["uri"]).query)["token"][0]
    device = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    message_path = urlsplit(destination["location"]).path

    listing = client.get(f"{PREFIX}/ms/{destination['bid']}", **device)
    assert_conforms(document, "get", "/ms/{bid}", listing)
    message = client.get(message_path, **device)
    assert_conforms(document, "get", "/ms/{bid}/{mid}", message)
    assert "assigned" in message.json()

    answer = Device(tmp_path / "phone").build_answer(destination["location"], message.json())
    answered = post_json(client, message_path, answer.body, **device)
    assert answered.json() == PROVISIONED
    assert_conforms(document, "post", "/ms/{bid}/{mid}", answered)

    command_id = created.json()["commandId"]
    polled = client.get(f"{PREFIX}/command/poll/{command_id}", **client_a.headers)
    assert polled.json()["profile"]["keys"]
    assert_conforms(document, "get", "/command/poll/{command_id}", polled)

    final = client.post(f"{PREFIX}/command/cancel/{command_id}", **client_a.headers)
    assert final.status_code == 409
    assert_conforms(document, "post", "/command/cancel/{command_id}", final)


def test_a_cancelled_command_conforms_to_the_document(
    client: Any, client_a: Persona, document: dict[str, Any]
) -> None:
    created = post_json(
        client, f"{PREFIX}/command/provision", provisioning_command(), **client_a.headers
    )
    cancelled = client.post(
        f"{PREFIX}/command/cancel/{created.json()['commandId']}", **client_a.headers
    )
    assert cancelled.json()["state"] == "CANCELLED"
    assert_conforms(document, "post", "/command/cancel/{command_id}", cancelled)


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        (provisioning_command(), {"HTTP_X_API_KEY": "aWRtOndyb25n"}, 401),
        ({"provCommand": {"userid": "userA"}}, None, 400),
        ({"signCommand": {}}, None, 400),
        ("not json", None, 400),
    ],
)
def test_error_answers_conform_to_the_error_schema(
    client: Any,
    client_a: Persona,
    document: dict[str, Any],
    body: Any,
    headers: dict[str, str] | None,
    status: int,
) -> None:
    path = f"{PREFIX}/command/provision"
    data = body if isinstance(body, str) else json.dumps(body)
    response = client.post(
        path, data, content_type="application/json", **(headers or client_a.headers)
    )
    assert response.status_code == status
    assert_conforms(document, "post", "/command/provision", response)


def test_not_found_answers_conform_to_the_error_schema(
    client: Any, client_a: Persona, document: dict[str, Any]
) -> None:
    unknown = client.get(f"{PREFIX}/command/poll/999999", **client_a.headers)
    assert unknown.status_code == 404
    assert_conforms(document, "get", "/command/poll/{command_id}", unknown)
    no_box = client.get(f"{PREFIX}/ms/99678846-836a-42f2-99e4-1de31bca857f?token=wrong")
    assert no_box.status_code == 404
    assert_conforms(document, "get", "/ms/{bid}", no_box)
