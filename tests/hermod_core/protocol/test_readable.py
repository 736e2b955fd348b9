"""What the console shows of a body or an answer (issue 16 item 6): JWS decoded, certificates and
CSRs summarised, secrets masked — with fixed vectors (the seed certificate and CSR) and hostile
input that must never raise."""

import base64
import json

from cryptography.hazmat.primitives.asymmetric import ec

from hermod_core.crypto import jws
from hermod_core.crypto.csr import template_with_challenge
from hermod_core.crypto.jwk import jwk_from_public_key
from hermod_core.protocol.readable import MASK, readable
from tests.hermod_core.crypto.vectors import (
    SEED_CERTIFICATE_B64,
    SEED_CERTIFICATE_SHA256,
    SEED_DUMMY_CSR_B64,
)

KEY = ec.generate_private_key(ec.SECP256R1())


def test_a_provisioning_answer_shows_its_jws_header_payload_and_nested_keys() -> None:
    public = jwk_from_public_key(KEY.public_key(), kid="signer")
    signed_key = jws.sign_compact(
        {**public, "certreq": SEED_DUMMY_CSR_B64, "keystate": "ACTIVE"},
        KEY,
        "ES256",
        {"kid": "signer", "nonce": "n-1"},
    )
    outer = jws.sign_compact(
        {
            "deviceinfo": {"model": "Pixel"},
            "profile": {"userid": "alice", "signedkeys": [signed_key]},
        },
        KEY,
        "ES256",
        {"jwk": jwk_from_public_key(KEY.public_key(), kid="attestation"), "nonce": "n-1"},
    )
    answer = {"provResponse": {"code": 0, "result": {"contenttype": "jws", "data": outer}}}
    shown = readable(answer)["provResponse"]["result"]["data"]
    assert shown["JWS header"]["alg"] == "ES256"
    assert shown["JWS header"]["jwk"]["kid"] == "attestation"
    assert shown["JWS payload"]["deviceinfo"] == {"model": "Pixel"}
    assert shown["JWS signature"] == "64 bytes"
    (key,) = shown["JWS payload"]["profile"]["signedkeys"]
    assert key["JWS header"] == {"alg": "ES256", "kid": "signer", "nonce": "n-1"}
    request = key["JWS payload"]["certreq"]["certificate request"]
    assert request["key"] == "RSA 2048"
    assert "CN=" in request["subject"]


def test_a_certificate_is_summarised() -> None:
    shown = readable(
        {"certCommand": {"certificates": [{"keyid": "s", "data": SEED_CERTIFICATE_B64}]}}
    )
    summary = shown["certCommand"]["certificates"][0]["data"]["certificate"]
    assert summary["sha256"] == SEED_CERTIFICATE_SHA256
    assert summary["valid"] == "2018-04-12 12:07 UTC to 2019-04-12 12:07 UTC"
    assert summary["key"].startswith("RSA ")
    assert summary["issuer"]
    assert summary["subject"]


def test_a_templates_one_time_challenge_is_masked() -> None:
    template = template_with_challenge(SEED_DUMMY_CSR_B64, "c0ffee" * 6)
    shown = readable({"keygenrequests": [{"keyid": "s", "certreq": template}]})
    request = shown["keygenrequests"][0]["certreq"]["certificate request"]
    assert request["challenge password"] == MASK
    assert "c0ffee" not in json.dumps(shown)


def test_tokens_passwords_admin_keys_and_private_jwk_members_are_masked() -> None:
    private = {"kty": "EC", "crv": "P-256", "x": "xx", "y": "yy", "d": "private-scalar"}
    value = {
        "boxtoken": "box-secret",
        "vscinfo": {"adminkey": "0" * 48, "smartcardid": "card-1"},
        "jwk": private,
        "uri": "com.nexusgroup.plugout:///?url=https%3A%2F%2Fh%2Fms%2Fb&token=tok-secret",
        "spin": json.dumps({"nonce": "ab", "transportedkey": "wrapped-secret"}),
        "challengePassword": "ca-secret",
    }
    for decode in (True, False):
        text = json.dumps(readable(value, decode=decode))
        secrets = ("box-secret", "0" * 48, "private-scalar", "tok-secret", "ca-secret", "wrapped")
        for secret in secrets:
            assert secret not in text, (decode, secret)
    decoded = readable(value)
    assert decoded["vscinfo"]["smartcardid"] == "card-1"
    assert decoded["jwk"]["x"] == "xx"
    assert decoded["spin"] == {"nonce": "ab", "transportedkey": MASK}
    raw = readable(value, decode=False)
    assert json.loads(raw["spin"]) == {"nonce": "ab", "transportedkey": MASK}
    assert raw["uri"].endswith("&token=********")


def test_ping_data_carried_as_json_text_is_shown_as_json() -> None:
    data = json.dumps({"deviceinfo": {"os": "Android"}, "profileinfo": []})
    shown = readable({"pingResponse": {"result": {"data": data}}})
    assert shown["pingResponse"]["result"]["data"] == {
        "deviceinfo": {"os": "Android"},
        "profileinfo": [],
    }


def test_hostile_input_never_raises() -> None:
    deep: object = "x"
    for _ in range(200):
        deep = {"a": [deep]}
    bad_jws = "e30.e30.e30"  # header without alg
    not_json = base64.urlsafe_b64encode(b'{"alg":"ES256"}').decode().rstrip("=") + ".AAAA.AAAA"
    samples = [
        deep,
        {"data": bad_jws},
        {"data": not_json},
        {"certreq": "not base64 at all"},
        {"data": "A" * 500},
        {"data": "[" * 5000},
        {"certificates": ["MII" + "A" * 400]},
        None,
        12,
        ["x", {"k": None}],
    ]
    for sample in samples:
        readable(sample)
        readable(sample, decode=False)
    assert "nested too deep to show" in json.dumps(readable(deep))
    assert readable({"data": not_json})["data"]["JWS payload"] == "3 bytes (not JSON)"


def test_a_pkcs7_signature_shows_the_certificates_it_carries() -> None:
    from hermod_core.crypto.cms import sign_data
    from hermod_core.emulator.testca import make_self_signed_ca

    ca_key, ca_cert = make_self_signed_ca("Readable Test CA")
    der = sign_data(b"to be signed", ca_key, ca_cert)
    data = base64.b64encode(der).decode()
    shown = readable({"signResponse": {"result": {"contenttype": "pkcs7", "data": data}}})
    (certificate,) = shown["signResponse"]["result"]["data"]["CMS SignedData"]["certificates"]
    assert certificate["certificate"]["subject"] == "CN=Readable Test CA"
    assert certificate["certificate"]["key"] == "EC 256"
    # Not a CMS at all: left as it is.
    garbage = base64.b64encode(b"\x30\x82" + b"\x00" * 300).decode()
    assert readable({"data": garbage}) == {"data": garbage}
