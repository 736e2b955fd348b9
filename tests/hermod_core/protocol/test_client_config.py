import time

import pytest
import yaml

from hermod_core.protocol.api_key import build_api_key_header
from hermod_core.protocol.client_config import (
    DEFAULT_GROUP,
    ClientConfigError,
    ClientEntry,
    ConfigNote,
    is_client_id,
    parse_client_config,
    read_client_config,
    render_client_config,
    render_client_snippet,
    render_generated_client,
)
from tests.seeds import CAMEL, KEBAB


def test_it_reads_the_kebab_case_spelling() -> None:
    idm, da = parse_client_config(KEBAB)
    assert idm == ClientEntry(
        client_id="idm",
        key="446020134ee8422db5769fbef9104a4157728610236d4dd1a4b37f935dab410a",
        group="smartid",
        callback_url="https://idm-host.example.com/ws/hermod",
        callback_basic_auth="username:password",
        callback_signing_secret=None,
    )
    assert da.client_id == "da"
    assert da.callback_basic_auth is None  # not mentioned: an import keeps the stored value


def test_it_reads_the_camel_case_spelling() -> None:
    (entry,) = parse_client_config(CAMEL)
    assert entry.client_id == "hermod-app"
    assert entry.group == "acme"
    assert entry.callback_url == "https://prime-server-url:18443/prime_explorer/ws/hermod"
    assert entry.callback_basic_auth == "primeuser:primeuserpw"


def test_it_reads_a_top_level_list_and_leaves_an_unmentioned_group_to_the_import() -> None:
    (entry,) = parse_client_config("allowed-clients:\n  - client-id: solo\n    key: k\n")
    assert entry.group is None


def test_a_member_given_empty_is_not_a_member_left_out() -> None:
    (entry,) = parse_client_config(
        "allowed-clients:\n  - client-id: solo\n    callback-url:\n    callback-basic-auth: ''\n"
    )
    assert (entry.callback_url, entry.callback_basic_auth) == ("", "")
    assert entry.callback_signing_secret is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[unclosed", "not valid YAML"),
        ("other: 1\n", "no allowed-clients"),
        ("allowed-clients: 3\n", "must be a list"),
        ("allowed-clients:\n  - key: k\n", "client-id is missing"),
        ("allowed-clients:\n  - client-id: a:b\n", "client-id is missing or invalid"),
        ("allowed-clients:\n  - client-id: a\n    callback-url: ftp://x\n", "callback-url"),
        ("allowed-clients:\n  - client-id: a\n    callback-basic-auth: nopass\n", "user:password"),
        ("allowed-clients:\n  - client-id: a\n  - client-id: a\n", "appears twice"),
        ("allowed-clients:\n  - just-a-string\n", "expected a mapping"),
    ],
)
def test_it_explains_what_is_wrong_with_a_file(text: str, problem: str) -> None:
    with pytest.raises(ClientConfigError, match=problem):
        parse_client_config(text)


def test_the_snippet_has_the_api_key_comment_and_one_kebab_entry() -> None:
    entry = ClientEntry("idm", "ab" * 32, "default", "https://h/callback-base", "", "")
    snippet = render_client_snippet(entry, "aWRtOmFi")
    assert snippet == (
        "# X-Api-Key: aWRtOmFi\n"
        "- client-id: idm\n"
        f"  key: {'ab' * 32}\n"
        "  group: default\n"
        "  callback-url: https://h/callback-base\n"
    )


def test_an_export_reads_back_without_keys() -> None:
    entries = parse_client_config(KEBAB)
    exported = render_client_config(entries)
    assert "key:" not in exported
    again = parse_client_config(exported)
    assert [(e.client_id, e.group, e.callback_url) for e in again] == [
        (e.client_id, e.group, e.callback_url) for e in entries
    ]
    assert yaml.safe_load(exported)["allowed-clients"][0]["callback-basic-auth"] == (
        "username:password"
    )


def test_it_quotes_values_that_yaml_would_misread() -> None:
    entry = ClientEntry("123", "", "yes", "", "", "")
    (back,) = parse_client_config(render_client_config([entry]))
    assert (back.client_id, back.group) == ("123", "yes")


BOMB = """
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
allowed-clients: [{client-id: a}]
hermod: *f
"""


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (BOMB, "line 3: YAML aliases"),
        ("x: &c {client-id: a}\nallowed-clients: [*c]\n", "line 2: YAML aliases"),
        ("allowed-clients: " + "[" * 100_000, "line 1: nested deeper than 20 levels"),
        ("".join("  " * i + "a:\n" for i in range(100)), "line 21: nested deeper than 20 levels"),
        ("allowed-clients: []\n# " + "x" * 1024 * 1024, "larger than 1024 KiB"),
    ],
)
def test_aliases_deep_nesting_and_huge_files_are_refused_quickly(text: str, problem: str) -> None:
    started = time.monotonic()
    with pytest.raises(ClientConfigError, match=problem):
        parse_client_config(text)
    assert time.monotonic() - started < 1


def test_anchors_without_aliases_and_twenty_levels_are_fine() -> None:
    # 17 mappings, the one holding allowed-clients, its list and the entry: 20 levels.
    nested = "".join("  " * i + "a:\n" for i in range(17))
    text = nested + "  " * 17 + "allowed-clients:\n" + "  " * 17 + "  - {client-id: &x deep}\n"
    assert [e.client_id for e in parse_client_config(text)] == ["deep"]


def test_the_file_wide_retry_policy_applies_to_clients_without_their_own_the_rest_noted() -> None:
    text = (
        CAMEL.replace(
            "      callbackBasicAuth: primeuser:primeuserpw\n",
            "      callbackBasicAuth: primeuser:primeuserpw\n"
            "    - clientId: own-policy\n      attempts: 3\n      retryDelay: 5\n"
            "      colour: blue\n",
        )
        + "  publicUrl: https://hermod.example.com/hermod/rest/ms\n"
    )
    config = read_client_config(text)
    app, own = config.entries
    assert (app.attempts, app.retry_delay) == (1, 30)
    assert (own.attempts, own.retry_delay) == (3, 5)
    notes = {note.path: note for note in config.notes}
    assert notes["hermod.attempts"] == ConfigNote(
        "hermod.attempts", "default", "1", ("hermod-app",)
    )
    assert notes["hermod.retryDelay"].applied_to == ("hermod-app",)
    assert notes["hermod.hideExceptions"] == ConfigNote(
        "hermod.hideExceptions", "hide-exceptions", "true"
    )
    assert notes["hermod.publicUrl"].kind == "public-url"
    assert notes["hermod.log"].kind == "ignored"
    assert notes["client own-policy: colour"].kind == "ignored"


def test_the_generateclient_snippet_is_a_configuration_file_as_it_is() -> None:
    entry = ClientEntry("idm", "ab" * 32, "default", "https://h/callback-base", "", "")
    (back,) = parse_client_config(render_client_snippet(entry, "aWRtOmFi"))
    assert (back.client_id, back.key, back.group, back.callback_url) == (
        "idm", "ab" * 32, "default", "https://h/callback-base",
    )  # fmt: skip


def test_the_content_provider_and_retry_policy_survive_an_export() -> None:
    entry = ClientEntry(
        "idm", "", "g", "https://h/cb", None, None, "https://content.example.com/api", "u:p", 2, 9
    )
    (back,) = parse_client_config(render_client_config([entry]))
    assert back == entry


@pytest.mark.parametrize(
    ("member", "problem"),
    [
        ("contentProviderUrl: ftp://x", "content-provider-url"),
        ("contentProviderBasicAuth: nopass", "user:password"),
        ("attempts: 0", "attempts must be 1 to 100"),
        ("retryDelay: soon", "retryDelay must be a whole number"),
    ],
)
def test_bad_content_provider_and_retry_members_are_explained(member: str, problem: str) -> None:
    with pytest.raises(ClientConfigError, match=problem):
        parse_client_config(f"allowedClients:\n  - clientId: a\n    {member}\n")


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("idm", True),
        ("x" * 100, True),
        ("", False),
        ("x" * 101, False),
        ("a:b", False),
        (" idm", False),
        ("idm ", False),
    ],
)
def test_the_client_id_rule(value, valid) -> None:
    assert is_client_id(value) is valid


def test_the_generated_client_snippet_carries_the_header_of_its_id_and_key() -> None:
    snippet = render_generated_client("idm", "k3y", callback_url="https://h/callback-base")
    assert snippet.startswith(f"# X-Api-Key: {build_api_key_header('idm', 'k3y')}\n")
    (entry,) = parse_client_config(snippet)
    assert (entry.client_id, entry.key, entry.group) == ("idm", "k3y", DEFAULT_GROUP)
    assert entry.callback_url == "https://h/callback-base"
