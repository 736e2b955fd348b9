from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from hermod_core.protocol.results import (
    CertificateView,
    DestinationView,
    KeyView,
    ProfileView,
    ResultView,
    plugout_uri,
    result_body,
)

BOX = (
    "https://ext-cod1.test.nexusgroup.com:20400/hermod/rest/ms/99678846-836a-42f2-99e4-1de31bca857f"
)


def test_the_plugout_uri_has_the_documented_shape() -> None:
    uri = plugout_uri(BOX, "2dff6242-34d8-4d31-8ac8-c53a21341a03")
    assert uri.startswith("com.nexusgroup.plugout:///?url=https%3A%2F%2Fext-cod1.test.")
    query = parse_qs(urlsplit(uri).query)
    assert query == {"url": [BOX], "token": ["2dff6242-34d8-4d31-8ac8-c53a21341a03"]}


def test_the_result_body_has_the_members_of_the_documentation_example() -> None:
    answer = {
        "responseHeader": {"inReplyTo": BOX + "/72aec710", "status": 200},
        "provResponse": {"code": 0, "result": {"contenttype": "jws", "data": "x.y.z"}},
    }
    body = result_body(
        ResultView(
            command_id=18092,
            external_id="my-id",
            command_type="PROV",
            state="COMPLETED",
            fqdn="ext-cod1.test.nexusgroup.com",
            destinations=(DestinationView("@tmp", "b", "m", "uri", "loc", None),),
            answer=answer,
            answer_key="provResponse",
        )
    )
    assert list(body) == [
        "responseHeader",
        "provResponse",
        "commandId",
        "externalId",
        "destinations",
        "commandType",
        "state",
        "fqdn",
    ]
    assert body["commandId"] == "18092"
    assert body["destinations"] == [
        {"to": "@tmp", "bid": "b", "uri": "uri", "mid": "m", "location": "loc"}
    ]
    assert body["provResponse"] == answer["provResponse"]


def test_without_an_external_id_the_member_is_left_out() -> None:
    body = result_body(ResultView(1, None, "PING", "IN_PROGRESS", "h", ()))
    assert "externalId" not in body
    assert "responseHeader" not in body


def _view(**fields: Any) -> ResultView:
    return ResultView(1, None, "PROV", "COMPLETED", "h", (), **fields)


def test_a_provisioned_profile_and_its_certificates_are_rendered_member_for_member() -> None:
    key = KeyView(keyid="signer", usage="SIG", keytype="RSA", keylength=2048, certreq="csr")
    profile = ProfileView(
        id="p",
        userid="userA",
        name="TestProfile",
        servername="nexus",
        boxurl="https://h/ms/b",
        keys=(key,),
        device_info={"model": "Pixel 8"},
    )
    not_after = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    certificate = CertificateView(
        keyid="signer", data="MIIB", subject="CN=a", issuer="CN=ca", not_after=not_after
    )
    body = result_body(_view(profile=profile, certificates=(certificate,)))
    assert body["profile"] == {
        "id": "p",
        "userid": "userA",
        "name": "TestProfile",
        "servername": "nexus",
        "boxurl": "https://h/ms/b",
        "keys": [
            {
                "keyid": "signer",
                "usage": "SIG",
                "keytype": "RSA",
                "keylength": 2048,
                "certreq": "csr",
            }
        ],
        "deviceinfo": {"model": "Pixel 8"},
    }
    assert body["certificates"] == [
        {
            "keyid": "signer",
            "data": "MIIB",
            "subject": "CN=a",
            "issuer": "CN=ca",
            "notAfter": "2026-01-02T03:04:05+00:00",
        }
    ]


def test_a_failure_and_the_ca_step_come_last_and_only_when_there() -> None:
    body = result_body(
        _view(failure_code="EXPIRED", failure_reason="Too late.", ca_state="FAILED", ca_error="x")
    )
    assert list(body)[-2:] == ["failure", "ca"]
    assert body["failure"] == {"code": "EXPIRED", "message": "Too late."}
    assert body["ca"] == {"state": "FAILED", "error": "x"}
    assert result_body(_view(ca_state="PENDING"))["ca"] == {"state": "PENDING"}
    plain = result_body(_view())
    assert {"failure", "ca", "profile", "certificates"}.isdisjoint(plain)


def test_a_signature_names_its_profile_only_when_no_provisioned_profile_is_shown() -> None:
    signed = {"verification": "VERIFIED", "profile": {"id": "q"}}
    assert result_body(_view(signature=signed))["profile"] == {"id": "q"}
