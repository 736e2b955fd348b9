"""The hot tables carry no index that a composite one already covers (migration 0013): every
create and every change of state writes an entry into each of them."""

from typing import Any

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


def _indexes(table: str) -> dict[str, dict[str, Any]]:
    with connection.cursor() as cursor:
        return {
            name: info
            for name, info in connection.introspection.get_constraints(cursor, table).items()
            if info["index"] or info["unique"]
        }


@pytest.mark.parametrize(
    ("table", "covered"),
    [
        ("hermod_command", ["client_id"]),
        ("hermod_command", ["group_id"]),
        ("hermod_message", ["mailbox_id"]),
    ],
)
def test_a_foreign_key_led_by_a_composite_index_has_none_of_its_own(
    table: str, covered: list[str]
) -> None:
    indexes = _indexes(table)
    assert [name for name, info in indexes.items() if info["columns"] == covered] == []
    assert any(info["columns"][: len(covered)] == covered for info in indexes.values())


def test_a_message_token_digest_has_one_unique_index() -> None:
    on_digest = [info for info in _indexes("hermod_message").values()
                 if info["columns"] == ["token_hash"]]  # fmt: skip
    assert len(on_digest) == 1
    assert on_digest[0]["unique"]
