"""Content ids and the content provider's answers (docs/PROTOCOL.md §13), as pure functions."""

import copy

import pytest

from hermod_core.protocol.content import (
    CONTENT_ID_TYPE,
    ContentRef,
    ProviderAnswerError,
    content_refs,
    merge,
    parse_provider_answer,
    provider_request,
)
from hermod_core.protocol.errors import ProtocolError

PICTURE = {
    "key": "picture",
    "description": "Is this your login picture?",
    "content_type": CONTENT_ID_TYPE,
    "data": "AUTH:6f1c2a52-8f0e-4a8e-9d3c-2b7e0c1d4f5a",
    "visible": True,
}
TEXT = {"key": "t", "content_type": "text/plain", "content_encoding": "base64", "data": "aGk="}
IMAGE = {"data": "iVBORw0KGgo=", "content_type": "image/png", "content_encoding": "base64"}


def test_placeholders_are_found_in_description_tbs_and_visual_data_in_body_order() -> None:
    auth = {"params": {"description": [TEXT, PICTURE], "tbs": [dict(PICTURE, data="AUTH:2")]}}
    assert content_refs("AUTH", auth, "authCommand") == (
        ContentRef(("params", "description", 1), PICTURE["data"], "item"),
        ContentRef(("params", "tbs", 0), "AUTH:2", "item"),
    )
    prov = {"profile": {"visualData": {"contentId": "PROV:1"}}}
    (card,) = content_refs("PROV", prov, "provCommand")
    assert (card.path, card.kind, card.field) == (
        ("profile", "visualData"),
        "visual",
        "profile.visualData.contentId",
    )
    assert content_refs("PING", {"params": {"description": [PICTURE]}}, "pingCommand") == ()
    assert provider_request("PROV:1") == {"contentId": "PROV:1"}


@pytest.mark.parametrize("bad", ["", "has space", "x" * 256, 7, None])
def test_a_bad_content_id_is_refused_naming_the_field(bad: object) -> None:
    body = {"params": {"description": [dict(PICTURE, data=bad)]}}
    with pytest.raises(ProtocolError) as raised:
        content_refs("SIGN", body, "signCommand")
    assert raised.value.field == "signCommand.params.description[0].data"


def test_an_item_answer_is_reduced_to_the_documented_members() -> None:
    ref = ContentRef(("params", "description", 0), "AUTH:1", "item")
    assert parse_provider_answer(ref, {**IMAGE, "extra": 1}) == IMAGE
    assert parse_provider_answer(ref, {"data": "aGk=", "content_type": "text/plain"}) == {
        "data": "aGk=",
        "content_type": "text/plain",
        "content_encoding": "base64",
    }


def test_a_card_answer_has_one_or_two_keyed_images() -> None:
    ref = ContentRef(("profile", "visualData"), "PROV:1", "visual")
    answer = {"data": [{"key": "front", **IMAGE}, {"key": "back", **IMAGE}]}
    assert parse_provider_answer(ref, answer) == answer


@pytest.mark.parametrize(
    ("kind", "answer", "problem"),
    [
        ("item", [], "not a JSON object"),
        ("item", {**IMAGE, "data": "not base64!"}, "not valid base64"),
        ("item", {**IMAGE, "content_type": "png"}, "media type"),
        ("item", {**IMAGE, "content_type": CONTENT_ID_TYPE}, "not a content id"),
        ("item", {**IMAGE, "content_encoding": "hex"}, "must be base64"),
        ("visual", {"data": []}, "1 to 2 images"),
        ("visual", {"data": [{"key": "a", **IMAGE}] * 3}, "1 to 2 images"),
        ("visual", {"data": [IMAGE]}, "key must be a name"),
        ("visual", IMAGE, "1 to 2 images"),
    ],
)
def test_an_unusable_answer_says_what_is_wrong(kind: str, answer: object, problem: str) -> None:
    with pytest.raises(ProviderAnswerError, match=problem):
        parse_provider_answer(ContentRef(("x",), "ID:1", kind), answer)


def test_merge_replaces_placeholders_on_a_copy_and_keeps_the_other_members() -> None:
    body = {
        "params": {"description": [TEXT, PICTURE]},
        "profile": {"visualData": {"contentId": "PROV:1", "layout": "v2"}},
    }
    kept = copy.deepcopy(body)
    card = [{"key": "front", **IMAGE}]
    merged = merge(
        body,
        [
            {"path": ["params", "description", 1], "kind": "item", "content": IMAGE},
            {"path": ["profile", "visualData"], "kind": "visual", "content": {"data": card}},
        ],
    )
    assert body == kept
    assert merged["params"]["description"] == [
        TEXT,
        {"key": "picture", "description": PICTURE["description"], "visible": True, **IMAGE},
    ]
    assert merged["profile"]["visualData"] == {"layout": "v2", "data": card}
    assert merge(body, []) is body
