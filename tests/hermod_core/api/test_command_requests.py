"""Command request rules of docs/PROTOCOL.md §4–§5 and §11: every malformed field is a 400 naming
it, and nothing is stored."""

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from hermod_core.models import CallbackDelivery, Command, Mailbox, Message
from tests.factories import Persona
from tests.seeds import PROVISIONING_COMMAND_TEXT, provisioning_command

pytestmark = pytest.mark.django_db

PROVISION = "/hermod/rest/command/provision"


def post(client, persona: Persona, path: str, body: Any, **extra: Any):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(path, data, content_type="application/json", **persona.headers, **extra)


def assert_nothing_stored() -> None:
    assert Command.objects.count() == 0
    assert Message.objects.count() == 0
    assert Mailbox.objects.count() == 0
    assert CallbackDelivery.objects.count() == 0


def test_the_seed_provisioning_command_is_accepted_exactly_as_printed(client, client_a) -> None:
    response = post(client, client_a, PROVISION, PROVISIONING_COMMAND_TEXT)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["commandType"] == "PROV"
    assert body["state"] == "IN_PROGRESS"
    assert body["externalId"] == "my-id"
    assert body["commandId"].isdigit()
    (destination,) = body["destinations"]
    assert destination["to"] == "@tmp"
    assert destination["uri"].startswith("com.nexusgroup.plugout:///?url=http%3A%2F%2F")
    assert destination["location"].endswith(f"/{destination['bid']}/{destination['mid']}")
    assert Command.objects.count() == 1
    assert CallbackDelivery.objects.get().state == "WAITING"


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = body
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        if value is _DELETE:
            del node[int(last) if last.isdigit() else last]
        else:
            node[int(last) if last.isdigit() else last] = value

    return change


_DELETE = object()
KR = "provCommand.profile.keygenrequests.0"

MALFORMED = [
    ("commandHeader", "x", "commandHeader"),
    ("commandHeader.to", "@tmp", "commandHeader.to"),
    ("commandHeader.to", ["@userA"], "commandHeader.to"),
    ("commandHeader.lifespan", 0, "commandHeader.lifespan"),
    ("commandHeader.lifespan", 86401, "commandHeader.lifespan"),
    ("commandHeader.lifespan", "soon", "commandHeader.lifespan"),
    ("commandHeader.timeout", 10, "commandHeader.timeout"),
    ("commandHeader.externalId", "x" * 256, "commandHeader.externalId"),
    ("provCommand.nonce", _DELETE, "provCommand.nonce"),
    ("provCommand.nonce", "", "provCommand.nonce"),
    ("provCommand.nonce", "x" * 129, "provCommand.nonce"),
    ("provCommand.nonce", "tab\there", "provCommand.nonce"),
    ("provCommand.userid", _DELETE, "provCommand.userid"),
    ("provCommand.userid", 42, "provCommand.userid"),
    ("provCommand.userid", "user\u202eA", "provCommand.userid"),
    ("provCommand.responsesignaturekey", "DEVICE", "provCommand.responsesignaturekey"),
    ("provCommand.responseformat", "xml", "provCommand.responseformat"),
    ("provCommand.profile", _DELETE, "provCommand.profile"),
    ("provCommand.profile.servername", _DELETE, "provCommand.profile.servername"),
    ("provCommand.profile.name", "", "provCommand.profile.name"),
    ("provCommand.profile.keygenrequests", [], "provCommand.profile.keygenrequests"),
    (f"{KR}.keyid", _DELETE, "provCommand.profile.keygenrequests[0].keyid"),
    (f"{KR}.usage", "SIGN", "provCommand.profile.keygenrequests[0].usage"),
    (f"{KR}.keytypeprios", [], "provCommand.profile.keygenrequests[0].keytypeprios"),
    (f"{KR}.keytypeprios.0.keytype", "DSA", "keygenrequests[0].keytypeprios[0].keytype"),
    (f"{KR}.keytypeprios.0.keylength", "1024", "keygenrequests[0].keytypeprios[0].keylength"),
    (f"{KR}.keytypeprios.0.responsemechanism", "HS256", "keytypeprios[0].responsemechanism"),
    (f"{KR}.storageprios", ["DISK"], "provCommand.profile.keygenrequests[0].storageprios[0]"),
    (f"{KR}.keystate", "ON", "provCommand.profile.keygenrequests[0].keystate"),
    (f"{KR}.certreq", _DELETE, "provCommand.profile.keygenrequests[0].certreq"),
    (f"{KR}.certreq", "bm90IGEgY3Ny", "provCommand.profile.keygenrequests[0].certreq"),
    ("provCommand.vscinfo", {"adminkey": "ABC"}, "provCommand.vscinfo.adminkey"),
    ("provCommand.desktopExtensions", [{"key": "provisionreader", "data": "USB"}],
     "provCommand.desktopExtensions[0].data"),
    ("provCommand.desktopExtensions", [{"key": "singleprofile", "data": "maybe"}],
     "provCommand.desktopExtensions[0].data"),
    ("provCommand.desktopKeyProtectionLevel", "HIGH", "provCommand.desktopKeyProtectionLevel"),
]  # fmt: skip


@pytest.mark.parametrize(("path", "value", "field"), MALFORMED)
def test_each_malformed_provisioning_field_is_a_400_naming_it(
    client, client_a, path: str, value: Any, field: str
) -> None:
    body = provisioning_command()
    _set(path, value)(body)
    response = post(client, client_a, PROVISION, body)
    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert error["field"].endswith(field), error
    assert error["message"]
    assert_nothing_stored()


def test_a_bad_certreq_names_the_key_id(client, client_a) -> None:
    body = provisioning_command()
    body["provCommand"]["profile"]["keygenrequests"][0]["certreq"] = "AAAA"
    error = post(client, client_a, PROVISION, body).json()["error"]
    assert error["code"] == "INVALID_CERTREQ"
    assert "'signer'" in error["message"]


def test_repeated_key_ids_are_refused(client, client_a) -> None:
    body = provisioning_command()
    requests = body["provCommand"]["profile"]["keygenrequests"]
    requests.append(dict(requests[0]))
    response = post(client, client_a, PROVISION, body)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "provCommand.profile.keygenrequests"


def test_unknown_members_are_kept_and_passed_on(client, client_a) -> None:
    body = provisioning_command()
    body["provCommand"]["profile"]["visualData"] = {"card": "base64image"}
    body["provCommand"]["futureOption"] = {"x": 1}
    assert post(client, client_a, PROVISION, body).status_code == 200
    stored = Command.objects.get().body
    assert stored["futureOption"] == {"x": 1}
    assert stored["profile"]["visualData"] == {"card": "base64image"}


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ("{not json", "INVALID_JSON"),
        ("[1, 2]", "INVALID_BODY"),
        ("", "INVALID_JSON"),
        ("[" * 100_000 + "]" * 100_000, "INVALID_JSON"),
        ('{"provCommand": {"userid": "nul\\u0000"}}', "INVALID_JSON"),
    ],
)
def test_bodies_that_are_not_a_json_object_are_400(client, client_a, data: str, code: str) -> None:
    response = post(client, client_a, PROVISION, data)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert_nothing_stored()


def test_a_command_sent_to_the_wrong_endpoint_is_400(client, client_a) -> None:
    body = {"signCommand": {"profileid": str(uuid.uuid4()), "params": {}}}
    response = post(client, client_a, "/hermod/rest/command/ping", body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "WRONG_COMMAND"
    assert error["field"] == "signCommand"


def test_a_missing_command_key_is_400(client, client_a) -> None:
    response = post(client, client_a, PROVISION, {"commandHeader": {}})
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "provCommand"


def test_a_body_over_one_mebibyte_is_413(client, client_a) -> None:
    body = provisioning_command()
    body["provCommand"]["padding"] = "x" * (1024 * 1024)
    response = post(client, client_a, PROVISION, body)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert_nothing_stored()


def test_the_in_progress_cap_answers_429(client, client_a, settings) -> None:
    settings.HERMOD_MAX_IN_PROGRESS = 2
    for _ in range(2):
        assert post(client, client_a, PROVISION, provisioning_command()).status_code == 200
    response = post(client, client_a, PROVISION, provisioning_command())
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "TOO_MANY_IN_PROGRESS"
    assert Command.objects.count() == 2


def test_a_profile_address_in_another_group_is_404_and_stores_nothing(
    client, client_a, client_b
) -> None:
    body = {"commandHeader": {"to": [str(uuid.uuid4())]}, "pingCommand": {"deviceinfo": "true"}}
    response = post(client, client_b, "/hermod/rest/command/ping", body)
    assert response.status_code == 404
    assert response.json()["error"]["field"] == "commandHeader.to[0]"
    assert_nothing_stored()


def test_an_unknown_user_address_is_404(client, client_a) -> None:
    body = {"commandHeader": {"to": ["@nobody"]}, "pingCommand": {}}
    response = post(client, client_a, "/hermod/rest/command/ping", body)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "ADDRESS_NOT_FOUND"


@pytest.mark.parametrize(
    ("endpoint", "body", "field"),
    [
        ("ping", {"pingCommand": {}}, "pingCommand.profileid"),
        ("ping", {"pingCommand": {"profileid": "not-a-uuid"}}, "pingCommand.profileid"),
        ("ping", {"pingCommand": {"profileid": str(uuid.UUID(int=1)), "deviceinfo": "yes"}},
         "pingCommand.deviceinfo"),
        ("sign", {"signCommand": {"profileid": str(uuid.UUID(int=1)), "params": {"tbs": []}}},
         "signCommand.params.tbs"),
        ("sign", {"signCommand": {"profileid": str(uuid.UUID(int=1)),
                                  "params": {"tbs": [{"data": "%%%"}]}}},
         "signCommand.params.tbs[0].data"),
        ("sign", {"signCommand": {"profileid": str(uuid.UUID(int=1)),
                                  "params": {"tbs": [{"data": "QQ=="}], "format": "xml"}}},
         "signCommand.params.format"),
        ("sign", {"signCommand": {"profileid": str(uuid.UUID(int=1)), "params": {
            "tbs": [{"data": "QQ=="}], "filter": {"op": "eq", "param": "key.color"}}}},
         "signCommand.params.filter.param"),
        ("delete", {"deleteCommand": {"confirmed": "perhaps"}}, "deleteCommand.confirmed"),
        ("delete", {"deleteCommand": {}}, "commandHeader.to"),
        ("startpinreset", {"spinCommand": {"profileid": str(uuid.UUID(int=1)),
                                           "operation": "reboot"}}, "spinCommand.operation"),
        ("endpinreset", {"epinCommand": {"profileid": str(uuid.UUID(int=1))}},
         "epinCommand.encryptednonce"),
        ("endpinreset", {"epinCommand": {"profileid": str(uuid.UUID(int=1)),
                                         "encryptednonce": "zz"}}, "epinCommand.encryptednonce"),
        ("endpinreset", {"epinCommand": {"profileid": str(uuid.UUID(int=1)),
                                         "encryptednonce": "00", "newadminkey": "A" * 48}},
         "epinCommand.newadminkey"),
        ("certificate", {"certCommand": {"profileid": str(uuid.UUID(int=1))}},
         "certCommand.certificates"),
        ("certificate", {"certCommand": {"profileid": str(uuid.UUID(int=1)),
                                         "certificates": [{"keyid": "k", "data": "QUJD"}]}},
         "certCommand.certificates[0].data"),
    ],
)  # fmt: skip
def test_each_malformed_field_of_the_other_commands_is_a_400_naming_it(
    client, client_a, endpoint: str, body: dict[str, Any], field: str
) -> None:
    response = post(client, client_a, f"/hermod/rest/command/{endpoint}", body)
    assert response.status_code == 400, response.json()
    assert response.json()["error"]["field"] == field
    assert_nothing_stored()
