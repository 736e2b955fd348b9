from urllib.parse import parse_qs, urlsplit

from hermod_core.protocol.results import DestinationView, ResultView, plugout_uri, result_body

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
