"""generateclient, /healthz and the JSON error format for 404 and 405 (docs/PROTOCOL.md §9, §12)."""

import re

import pytest
import yaml

from hermod_core.protocol.api_key import parse_api_key_header
from hermod_core.protocol.client_config import parse_client_config

pytestmark = pytest.mark.django_db


def test_generateclient_answers_a_yaml_snippet_with_a_fresh_key(client, settings) -> None:
    settings.ALLOWED_HOSTS = ["hermod.example.com"]
    response = client.get("/hermod/rest/util/generateclient/idm", HTTP_HOST="hermod.example.com")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    first, *rest = text.splitlines()
    header = re.fullmatch(r"# X-Api-Key: (\S+)", first)
    assert header
    (entry,) = parse_client_config("allowed-clients:\n" + "\n".join("  " + r for r in rest))
    assert entry.client_id == "idm"
    assert re.fullmatch(r"[0-9a-f]{64}", entry.key)
    assert entry.group == "default"
    assert entry.callback_url == "https://hermod.example.com/callback-base"
    api_key = parse_api_key_header(header.group(1))
    assert api_key is not None
    assert (api_key.client_id, api_key.key) == ("idm", entry.key)
    assert isinstance(yaml.safe_load(text), list)


def test_generateclient_gives_a_new_key_each_time_and_stores_nothing(client) -> None:
    from hermod_core.models import Client

    first = client.get("/hermod/rest/util/generateclient/idm").content
    second = client.get("/hermod/rest/util/generateclient/idm").content
    assert first != second
    assert not Client.objects.exists()


def test_healthz_reports_database_broker_and_version(client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["broker"]["ok"] is True
    assert body["version"]


def test_livez_answers_ok_without_touching_the_database(client, django_assert_num_queries) -> None:
    with django_assert_num_queries(0):
        assert client.get("/livez").content == b"ok"


def test_an_unknown_api_path_answers_the_json_error(client) -> None:
    response = client.get("/hermod/rest/nothing-here")
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "NOT_FOUND", "message": "No such resource."}}


def test_a_wrong_method_answers_the_json_error(client, client_a) -> None:
    response = client.get("/hermod/rest/command/provision", **client_a.headers)
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "METHOD_NOT_ALLOWED"


def test_the_console_login_page_is_served(client) -> None:
    response = client.get("/console/login/")
    assert response.status_code == 200
    assert b"Log in" in response.content


def test_the_openapi_schema_is_served(client) -> None:
    response = client.get("/hermod/v3/api-docs", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    paths = yaml.safe_load(response.content)["paths"]
    assert "/hermod/rest/command/provision" in paths
    assert "/hermod/rest/ms/{bid}/{mid}" in paths
