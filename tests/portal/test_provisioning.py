"""From the console's provisioning spec to the body the API accepts."""

from hermod_core.crypto.csr import parse_csr_b64
from hermod_core.protocol.commands import parse_command_request
from portal.provisioning import KeySpec, ProvisionSpec, congrats_message, provision_body

SPEC = ProvisionSpec(
    userid="",
    profile_name="Work",
    servername="hermod",
    subject=(("O", "Acme"), ("CN", "{userid}")),
    keys=(
        KeySpec("signer", "SIG", "RSA", 3072, "PS256", ("TPM", "OS")),
        KeySpec("enc", "ENC", "EC", 384, "ES384", keystate="INACTIVE"),
    ),
    lifespan=60,
    timeout=120,
    provisionreader="CreateTPM",
    flags=(("deletedisabled", "true"),),
    congratsmessage="Hi",
    protection_level="PASSWORD",
)


def test_a_spec_makes_a_body_the_api_accepts():
    body = provision_body(SPEC.for_user("zoe"))
    request = parse_command_request("provision", body)
    assert request.userid == "zoe"
    assert [k.keyid for k in request.key_requests] == ["signer", "enc"]
    assert request.key_requests[0].keytypeprios == (("RSA", 3072, "PS256"),)
    assert request.key_requests[1].keystate == "INACTIVE"
    assert request.header.lifespan == 60
    assert request.header.timeout == 120
    assert body["commandHeader"]["to"] == ["@tmp"]
    assert "vscinfo" not in body["provCommand"]
    assert body["provCommand"]["desktopExtensions"] == [
        {"key": "provisionreader", "data": "CreateTPM"},
        {"key": "deletedisabled", "data": "true"},
        {"key": "congratsmessage", "data": "Hi"},
    ]
    assert congrats_message(body["provCommand"]) == "Hi"


def test_every_body_gets_a_fresh_nonce():
    first = provision_body(SPEC.for_user("a"))["provCommand"]["nonce"]
    second = provision_body(SPEC.for_user("a"))["provCommand"]["nonce"]
    assert first != second
    assert len(first) == 32


def test_the_userid_placeholder_and_row_overrides():
    spec = SPEC.for_user("zoe", {"O": "Other", "emailAddress": "zoe@x"})
    assert spec.subject == (("O", "Other"), ("CN", "zoe"), ("emailAddress", "zoe@x"))
    certreq = provision_body(spec)["provCommand"]["profile"]["keygenrequests"][0]["certreq"]
    assert parse_csr_b64(certreq).subject_string.count("zoe") == 2


def test_a_spec_survives_the_job_ledger():
    assert ProvisionSpec.from_json(SPEC.to_json()) == SPEC


def test_no_congratulations_without_the_extension():
    assert congrats_message({}) == ""
    assert congrats_message({"desktopExtensions": [{"key": "congratsmessage", "data": 5}]}) == ""
