"""Property: the protocol parsers and the HTTP entry points answer anything with a protocol error.

Each untrusted input of docs/PROTOCOL.md §3–§6 reaches one of these functions. An exception of
another type there becomes a 500 instead of the 4xx/422 of §11–§12. Inputs are arbitrary JSON, JSON
shaped like the protocol (its member names and values), mutations of the documented valid bodies
(`tests/seeds.py`, `schema.REQUEST_EXAMPLES`), and answers signed by real keys so that validation
gets past the signature checks into the payload rules. The crypto layer has its own fuzz tests
(`tests/hermod_core/crypto/test_fuzz.py`); these start one layer up.

Runs are derandomized (same examples on every CI run) and keep no example database.
"""

import base64
import copy
import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.provisional import urls

from hermod_core.crypto import jws
from hermod_core.crypto.csr import make_dummy_csr, rekey_csr
from hermod_core.crypto.digests import b64url_sha256
from hermod_core.crypto.errors import CryptoError
from hermod_core.crypto.jwk import jwk_from_public_key
from hermod_core.emulator.device import parse_target
from hermod_core.emulator.forgery import signing_input
from hermod_core.models import CallbackDelivery, Command, EndUser, Mailbox, Message, Profile
from hermod_core.protocol.answers import (
    AnswerRejected,
    Envelope,
    PingResult,
    ProvisionExpectation,
    SigningKey,
    parse_envelope,
    validate_ping,
    validate_provision,
    validate_signature,
    validate_spin,
)
from hermod_core.protocol.api_key import ApiKey, build_api_key_header, parse_api_key_header
from hermod_core.protocol.commands import ENDPOINTS, parse_command_request, parse_key_requests
from hermod_core.protocol.errors import ProtocolError
from hermod_core.protocol.results import plugout_uri
from tests.api_client import COMMAND, token_of
from tests.hardening.conftest import KEYS
from tests.hermod_core.crypto.vectors import SEED_CERTIFICATE_B64, SEED_DUMMY_CSR_B64
from tests.seeds import certificate_command, provisioning_command

FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
HTTP_FUZZ = settings(FUZZ, max_examples=150)
UPPER_SNAKE = re.compile(r"[A-Z][A-Z0-9_]*")
ANSWER_KEYS = sorted({e.answer_key for e in ENDPOINTS.values()})
BODY_KEYS = sorted({e.body_key for e in ENDPOINTS.values()})

# --- strategies --------------------------------------------------------------------------------

# Whatever json.loads can hand the parsers: NaN, infinities and lone surrogates included.
any_text = st.text(alphabet=st.characters(exclude_categories=()), max_size=30)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | any_text,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(any_text, children, max_size=4)
    ),
    max_leaves=20,
)

MEMBER_NAMES = [
    *BODY_KEYS,
    *ANSWER_KEYS,
    "commandHeader", "to", "lifespan", "timeout", "externalId", "nonce", "userid",
    "responsesignaturekey", "responseformat", "profile", "servername", "name", "keygenrequests",
    "keyid", "usage", "keytypeprios", "keytype", "keylength", "responsemechanism", "storageprios",
    "keystate", "certreq", "visualData", "vscinfo", "smartcardid", "adminkey", "oldadminkey",
    "desktopExtensions", "key", "data", "desktopKeyProtectionLevel", "certificates", "profileid",
    "params", "description", "tbs", "filter", "op", "param", "value", "format", "mechanism",
    "content_encoding", "deviceinfo", "profileinfo", "confirmed", "operation", "driver",
    "encryptednonce", "newadminkey", "responseHeader", "inReplyTo", "status", "code", "result",
    "contenttype", "transportedkey",
]  # fmt: skip
MEMBER_VALUES = [
    "@tmp", "@userA", "@", "", " ", "userA", str(uuid.UUID(int=1)), "not-a-uuid", "RSA", "EC",
    "2048", "256", "384", "4096", "1024", "RS256", "ES256", "ES384", "PS256", "SIG", "AUTH", "ENC",
    "APP", "TPM", "ACTIVE", "INACTIVE", "ATTESTATION", "jws", "pkcs7", "base64", "eq", "key.type",
    "key.usage", "key.id", "true", "false", "yes", "CreateTPM", "7TPM", "pinreset", "00", "zz",
    "0" * 48, "A" * 48, "QQ==", "%%%", "300", "86400", "86401", "0", "-1", "1e3",
    "provisionreader", "congratsmessage", "singleprofile", "NONE", "PASSWORD",
    SEED_DUMMY_CSR_B64, SEED_CERTIFICATE_B64,
]  # fmt: skip
protocol_scalars = st.one_of(
    st.sampled_from(MEMBER_VALUES),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, 2, 99, 100, 256, 300, 2048, 86400, 86401, True, False, None]),
    st.floats(),
    any_text,
)
protocol_keys = st.one_of(st.sampled_from(MEMBER_NAMES), any_text)
protocol_json = st.recursive(
    protocol_scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(protocol_keys, children, max_size=6)
    ),
    max_leaves=30,
)


def _valid_bodies(name: str) -> list[dict[str, Any]]:
    from hermod_core.api.schema import REQUEST_EXAMPLES

    bodies = [copy.deepcopy(REQUEST_EXAMPLES[name])]
    if name == "provision":
        bodies.append(provisioning_command())
    if name == "certificate":
        bodies.append(certificate_command())
    return bodies


def _members(value: Any) -> Iterator[tuple[Any, Any]]:
    """Every (container, key-or-index) pair in a JSON tree."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                yield item, key
                stack.append(child)
        elif isinstance(item, list):
            for index, child in enumerate(item):
                yield item, index
                stack.append(child)


@st.composite
def mutated(draw: st.DrawFn, base: Any) -> Any:
    """`base` with one to four members replaced, removed, retyped, duplicated or added."""
    value = copy.deepcopy(base)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        members = list(_members(value))
        if not members:
            break
        container, key = draw(st.sampled_from(members))
        action = draw(st.sampled_from(["replace", "remove", "retype", "duplicate", "add"]))
        if action == "replace":
            container[key] = draw(protocol_json)
        elif action == "remove":
            del container[key]
        elif action == "retype":
            old = container[key]
            container[key] = draw(st.sampled_from([str(old), [old], {"v": old}, None, 0]))
        elif action == "duplicate" and isinstance(container, list):
            container.append(copy.deepcopy(container[key]))
        elif isinstance(container, dict):
            container[draw(protocol_keys)] = draw(protocol_json)
    return value


@st.composite
def command_bodies(draw: st.DrawFn) -> tuple[str, Any]:
    name = draw(st.sampled_from(sorted(ENDPOINTS)))
    kind = draw(st.sampled_from(["any", "shaped", "mutated"]))
    if kind == "any":
        return name, draw(json_values)
    if kind == "shaped":
        endpoint = ENDPOINTS[name]
        body = draw(st.dictionaries(protocol_keys, protocol_json, max_size=5))
        body[draw(st.sampled_from([endpoint.body_key, *BODY_KEYS]))] = draw(protocol_json)
        return name, body
    return name, draw(mutated(draw(st.sampled_from(_valid_bodies(name)))))


def attempt(call: Any, *args: Any, **kwargs: Any) -> tuple[Any, Exception | None]:
    """`call`'s result, or the protocol error it raised; any other exception propagates."""
    try:
        result = call(*args, **kwargs)
    except (ProtocolError, AnswerRejected) as error:
        event(f"refused: {error.code}")
        return None, error
    event("accepted")
    return result, None


def assert_section_12_error(error: ProtocolError) -> None:
    assert UPPER_SNAKE.fullmatch(error.code), error.code
    assert isinstance(error.message, str)
    assert error.message
    assert error.field is None or (isinstance(error.field, str) and error.field)


# --- command requests (§4–§5) ------------------------------------------------------------------


@FUZZ
@given(command_bodies())
def test_command_requests_raise_nothing_but_protocol_errors(case: tuple[str, Any]) -> None:
    name, raw = case
    request, error = attempt(parse_command_request, name, raw)
    if error is not None:
        assert isinstance(error, ProtocolError)
        assert_section_12_error(error)
        return
    endpoint = ENDPOINTS[name]
    assert request.endpoint is endpoint
    assert request.body is raw[endpoint.body_key]  # kept exactly as sent (§4.1)
    assert 1 <= request.header.lifespan <= request.header.timeout <= 86400


@pytest.mark.parametrize("name", sorted(ENDPOINTS))
def test_every_documented_example_parses(name: str) -> None:
    for body in _valid_bodies(name):
        parse_command_request(name, body)


# --- answers (§6) ------------------------------------------------------------------------------


@st.composite
def answers(draw: st.DrawFn) -> tuple[str, Any]:
    answer_key = draw(st.sampled_from(ANSWER_KEYS))
    raw = draw(st.one_of(json_values, st.dictionaries(protocol_keys, protocol_json, max_size=4)))
    if isinstance(raw, dict) and draw(st.booleans()):
        raw["responseHeader"] = draw(
            st.one_of(
                protocol_json,
                st.fixed_dictionaries(
                    {}, optional={"inReplyTo": protocol_json, "status": protocol_json}
                ),
            )
        )
        raw[draw(st.sampled_from([answer_key, *ANSWER_KEYS]))] = draw(
            st.one_of(
                protocol_json,
                st.fixed_dictionaries(
                    {}, optional={"code": protocol_json, "result": protocol_json}
                ),
            )
        )
    return answer_key, raw


@FUZZ
@given(answers())
def test_answer_envelopes_raise_nothing_but_protocol_errors(case: tuple[str, Any]) -> None:
    answer_key, raw = case
    envelope, error = attempt(parse_envelope, raw, answer_key)
    if error is not None:
        assert isinstance(error, ProtocolError)
        assert_section_12_error(error)
        return
    assert isinstance(envelope.in_reply_to, str)
    assert envelope.in_reply_to
    assert isinstance(envelope.code, int)
    assert 0 <= envelope.code <= 99
    assert envelope.result is None or isinstance(envelope.result, dict)


# Keys made once for the module: an EC key signs (cheap) and an RSA key from the shared pool.
EC_KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_EC_KEY = ec.generate_private_key(ec.SECP256R1())
RSA_KEY = KEYS("RSA", 2048)
EC_CSR = base64.b64encode(rekey_csr(SEED_DUMMY_CSR_B64, EC_KEY)).decode()
PUBLIC_URL = "https://hermod.example.com:20400/hermod/rest/ms"
NONCE = "123456789"
COMMAND_ID = 18092
TBS = (b"Transfer 500 EUR",)
PROFILE_ID, BOX_ID = uuid.UUID(int=7), uuid.UUID(int=8)
KEY_REQUEST = {
    "keyid": "signer",
    "usage": "SIG",
    "keytypeprios": [
        {"keytype": "EC", "keylength": "256", "responsemechanism": "ES256"},
        {"keytype": "RSA", "keylength": "2048"},
    ],
    "certreq": SEED_DUMMY_CSR_B64,
}
EXPECTED = ProvisionExpectation(
    nonce=NONCE,
    userid="userA",
    servername="nexus-cod1",
    name="TestProfile",
    key_requests=parse_key_requests({"keygenrequests": [KEY_REQUEST]}, "provCommand.profile"),
    public_url=PUBLIC_URL,
    assigned_profile_id=PROFILE_ID,
    assigned_box_id=BOX_ID,
    trusted_thumbprints=frozenset(),
)


class Breakage:
    """Which few places of an otherwise valid answer to break (none, one or two of them).

    Breaking a handful of places at a time, instead of each place with some probability, keeps
    many answers valid up to a deep rule, which is where the interesting code is.
    """

    def __init__(self, draw: st.DrawFn, sites: list[str]) -> None:
        self.draw = draw
        self.broken = draw(st.sets(st.sampled_from(sites), max_size=2))

    def pick(self, site: str, valid: Any, *broken: Any) -> Any:
        """`valid`, or if `site` is broken one of `broken` or anything at all."""
        if site not in self.broken:
            return valid
        return self.draw(
            st.one_of(st.sampled_from(broken), protocol_json) if broken else protocol_json
        )

    def choose(self, site: str, valid: Any, *others: Any) -> Any:
        """`valid`, or if `site` is broken one of `others` (keys, algorithms: never junk)."""
        return self.draw(st.sampled_from(others)) if site in self.broken else valid


def _signed(payload: Any, key: Any, alg: str, header: dict[str, Any]) -> str:
    # ASCII JSON, so that NaN and lone surrogates reach the server's own JSON checks.
    return jws.sign_compact(json.dumps(payload).encode(), key, alg, header)


OTHER_SUBJECT_CSR = base64.b64encode(
    rekey_csr(make_dummy_csr({"CN": "Someone else"}, key=OTHER_EC_KEY), EC_KEY)
).decode()
TEMPLATE_KEY_CSR = SEED_DUMMY_CSR_B64  # the right subject, but not the signed key
ENTRY_SITES = ["entry", "entry_key", "entry_payload", "kid", "entry_nonce", "certreq", "jwk_kid"]
PROVISION_SITES = [
    "token", "alg", "header_key", "jwk", "nonce", "fqdn", "payload", "profile", "userid",
    "servername", "name", "signedkeys", "id", "boxurl", "deviceinfo", *ENTRY_SITES,
]  # fmt: skip


def _signed_key_entry(faults: Breakage) -> Any:
    member = {
        **jwk_from_public_key(EC_KEY.public_key()),
        "kid": faults.pick("jwk_kid", "signer"),
        "certreq": faults.pick("certreq", EC_CSR, OTHER_SUBJECT_CSR, TEMPLATE_KEY_CSR, "%%%"),
    }
    key = faults.choose("entry_key", EC_KEY, OTHER_EC_KEY)
    header = {"kid": faults.pick("kid", "signer"), "nonce": faults.pick("entry_nonce", NONCE)}
    payload = faults.pick("entry_payload", member)
    return faults.pick("entry", _signed(payload, key, "ES256", header))


@st.composite
def provisioning_data(draw: st.DrawFn) -> Any:
    """A compact JWS by a real key over a payload shaped like §6.1, broken in a few places."""
    faults = Breakage(draw, PROVISION_SITES)
    key, alg = draw(st.sampled_from([(RSA_KEY, "RS256"), (RSA_KEY, "PS256"), (EC_KEY, "ES256")]))
    alg = faults.choose("alg", alg, "ES384", "RS512", "PS512", "none", "HS256")
    header_key = faults.choose("header_key", key, OTHER_EC_KEY, RSA_KEY)
    header = {
        "jwk": faults.pick("jwk", jwk_from_public_key(header_key.public_key(), kid="attestation")),
        "nonce": faults.pick("nonce", NONCE, "12345678", ""),
        "fqdn": faults.pick("fqdn", "hermod.example.com", "evil.example.com"),
    }
    profile: dict[str, Any] = {
        "userid": faults.pick("userid", "userA", "usera", "userA\u200d"),
        "servername": faults.pick("servername", "nexus-cod1"),
        "name": faults.pick("name", "TestProfile"),
        "signedkeys": faults.pick("signedkeys", [_signed_key_entry(faults)], []),
    }
    own_id, own_box = str(draw(st.uuids())), f"{PUBLIC_URL}/{draw(st.uuids())}"
    if draw(st.booleans()):
        profile["id"] = faults.pick("id", str(PROFILE_ID), own_id, "not-a-uuid")
        profile["boxurl"] = faults.pick(
            "boxurl", f"{PUBLIC_URL}/{BOX_ID}", own_box, f"{PUBLIC_URL}/x", "https://evil/"
        )
    payload = {
        "deviceinfo": faults.pick("deviceinfo", {"name": "phone"}),
        "profile": faults.pick("profile", profile),
    }
    body = faults.pick("payload", payload)
    try:
        token = _signed(body, key, alg, header)
    except CryptoError:  # an algorithm that does not fit the key: a forged token with junk
        token = f"{signing_input({**header, 'alg': alg}, json.dumps(body).encode())}.AAAA"
    return faults.pick("token", token, token[: len(token) // 2], token + "x", "a.b.c")


def envelope(data: Any) -> Envelope:
    result = {"contenttype": "jws", "data": data}
    raw = {"responseHeader": {"inReplyTo": "x"}, "provResponse": {"code": 0, "result": result}}
    return Envelope(in_reply_to="x", code=0, result=result, raw=raw)


@FUZZ
@given(provisioning_data())
def test_provisioning_validation_raises_nothing_but_answer_rejected(data: Any) -> None:
    result, rejected = attempt(validate_provision, envelope(data), EXPECTED)
    if rejected is not None:
        assert isinstance(rejected, AnswerRejected)
        assert UPPER_SNAKE.fullmatch(rejected.code), rejected.code
        return
    assert [k.keyid for k in result.keys] == ["signer"]


@st.composite
def signature_data(draw: st.DrawFn) -> tuple[str, Any]:
    faults = Breakage(draw, ["token", "key", "kid", "tbs", "nonce", "payload", "format"])
    format_ = faults.choose("format", "jws", "pkcs7")
    payload = {
        "tbs": faults.pick("tbs", [b64url_sha256(item) for item in TBS], [], [b64url_sha256(b"")]),
        "nonce": faults.pick("nonce", draw(st.sampled_from([COMMAND_ID, str(COMMAND_ID)])), 1),
    }
    key = faults.choose("key", EC_KEY, OTHER_EC_KEY)
    token = _signed(
        faults.pick("payload", payload), key, "ES256", {"kid": faults.pick("kid", "signer")}
    )
    garbage = base64.b64encode(draw(st.binary(max_size=300))).decode()
    return format_, faults.pick("token", token, garbage)


@FUZZ
@given(signature_data())
def test_signature_validation_raises_nothing_but_answer_rejected(case: tuple[str, Any]) -> None:
    format_, data = case
    candidates = (SigningKey(keyid="signer", jwk=jwk_from_public_key(EC_KEY.public_key())),)
    now = datetime.now(UTC)
    verified, rejected = attempt(
        validate_signature,
        envelope(data),
        command_id=COMMAND_ID,
        tbs=TBS,
        format_=format_,
        candidates=candidates,
        created_at=now,
        now=now,
    )
    if rejected is not None:
        assert isinstance(rejected, AnswerRejected)
        assert UPPER_SNAKE.fullmatch(rejected.code), rejected.code
        return
    assert verified.keyid == "signer"


json_results = st.one_of(
    protocol_json,
    st.fixed_dictionaries({}, optional={"deviceinfo": protocol_json, "profileinfo": protocol_json}),
    st.fixed_dictionaries(
        {},
        optional={
            "nonce": st.one_of(st.just("0a1b"), protocol_json),
            "transportedkey": st.one_of(st.just("a2V5"), protocol_json),
        },
    ),
)


@FUZZ
@given(st.one_of(json_results, json_results.map(json.dumps), any_text))
def test_ping_and_pin_reset_validation_raise_nothing_but_answer_rejected(data: Any) -> None:
    for validate in (validate_ping, validate_spin):
        result, rejected = attempt(validate, envelope(data))
        if rejected is None:
            assert isinstance(result, PingResult | dict)
        else:
            assert isinstance(rejected, AnswerRejected)
            assert rejected.code in {
                "RESULT_MALFORMED",
                "SPIN_NONCE_INVALID",
                "DEVICEINFO_INVALID",
                "PROFILEINFO_INVALID",
            }


# --- the X-Api-Key header (§3) and plug-out URIs (§1) -------------------------------------------


@FUZZ
@given(
    st.one_of(
        st.none(),
        any_text,
        st.binary(max_size=200).map(lambda b: base64.b64encode(b).decode()),
        st.text(max_size=2000),
    )
)
def test_any_api_key_header_is_parsed_without_raising(value: str | None) -> None:
    parsed = parse_api_key_header(value)
    assert parsed is None or (
        isinstance(parsed, ApiKey) and parsed.client_id and ":" not in parsed.client_id
    )


unicode_text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), min_size=1, max_size=60)


@FUZZ
@given(client_id=unicode_text.filter(lambda t: ":" not in t), key=unicode_text)
def test_an_api_key_header_reads_back_what_was_built(client_id: str, key: str) -> None:
    assert parse_api_key_header(build_api_key_header(client_id, key)) == ApiKey(client_id, key)


@FUZZ
@given(box=st.one_of(urls(), unicode_text), token=unicode_text)
def test_a_plugout_uri_gives_back_its_box_url_and_token(box: str, token: str) -> None:
    uri = plugout_uri(box, token)
    parts = urlsplit(uri)
    assert (parts.scheme, parts.path) == ("com.nexusgroup.plugout", "/")
    assert parse_qsl(parts.query, keep_blank_values=True, strict_parsing=True) == [
        ("url", box),
        ("token", token),
    ]


@FUZZ
@given(box=urls(), token=unicode_text)
def test_the_reference_device_reads_the_box_url_and_token_of_a_plugout_uri(box, token) -> None:
    target = parse_target(plugout_uri(box, token))
    assert (target.box_url, target.token, target.location) == (box, token, None)


# --- the HTTP entry points (§11, §12) -----------------------------------------------------------

# Valid I-JSON only here: NaN, infinities and lone surrogates have tests of their own in
# test_attacks.py (they are refused by the parsers but not by the body reader).
finite_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


def _rows() -> tuple[int, ...]:
    models = (Command, Message, Mailbox, Profile, EndUser, CallbackDelivery)
    return tuple(model.objects.count() for model in models)


def assert_section_12_body(response: Any) -> dict[str, Any]:
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) <= {"code", "message", "field"}, body
    assert UPPER_SNAKE.fullmatch(body["error"]["code"]), body
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    return body


@st.composite
def request_bytes(draw: st.DrawFn) -> tuple[str, bytes]:
    name = draw(st.sampled_from(sorted(ENDPOINTS)))
    valid = json.dumps(draw(st.sampled_from(_valid_bodies(name)))).encode()
    raw = draw(
        st.one_of(
            st.binary(max_size=2000),
            finite_json.map(lambda v: json.dumps(v).encode()),
            st.integers(min_value=0, max_value=len(valid) - 1).map(lambda n: valid[:n]),
            st.text(max_size=200).map(lambda t: t.encode("utf-16")),
        )
    )
    return name, raw


@HTTP_FUZZ
@given(request_bytes())
def test_arbitrary_bytes_to_a_command_endpoint_get_a_4xx_error_body_and_store_nothing(
    client, client_a, no_rate_limits, case: tuple[str, bytes]
) -> None:
    name, raw = case
    before = _rows()
    response = client.post(
        f"{COMMAND}/{name}", raw, content_type="application/json", **client_a.headers
    )
    assert 400 <= response.status_code < 500, response.content
    assert_section_12_body(response)
    assert _rows() == before


@pytest.fixture
def waiting_message(client, client_a, hermod) -> dict[str, Any]:
    response = client.post(
        f"{COMMAND}/provision",
        json.dumps(provisioning_command()),
        content_type="application/json",
        **client_a.headers,
    )
    assert response.status_code == 200
    (destination,) = response.json()["destinations"]
    return destination


@HTTP_FUZZ
@given(
    st.one_of(
        st.binary(max_size=2000),
        finite_json.map(lambda v: json.dumps(v).encode()),
        st.integers(min_value=1, max_value=200).map(
            lambda n: json.dumps({"responseHeader": {"inReplyTo": "x"}, "provResponse": {}})[
                :-n
            ].encode()
        ),
    )
)
def test_arbitrary_bytes_to_the_answer_endpoint_get_a_400_and_consume_nothing(
    client, waiting_message, no_rate_limits, raw: bytes
) -> None:
    before = _rows()
    response = client.post(
        urlsplit(waiting_message["location"]).path,
        raw,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token_of(waiting_message)}",
    )
    assert response.status_code == 400, response.content
    assert_section_12_body(response)
    assert _rows() == before
    message = Message.objects.select_related("command").get(pk=waiting_message["mid"])
    assert message.state == "WAITING"
    assert message.command.state == "IN_PROGRESS"
    assert message.command.answer is None
