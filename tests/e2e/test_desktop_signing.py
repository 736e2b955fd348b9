"""Issue 11, items 2–5, end to end on the production-shaped stack (gunicorn, Celery workers and
beat, PostgreSQL, Redis) with the reference device as the desktop app: profile-less web signing
through ``@tmp``, smart-card ids as addresses, raw and XML signature formats, and the progress of
each destination in sync, poll and callback bodies. Every request body is the documented one."""

import base64
import copy
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import serialization

from hermod_core.emulator.device import Device, Faults
from hermod_core.emulator.testca import issue_certificate, make_self_signed_ca
from tests.api_client import Api
from tests.e2e.receiver import Receiver
from tests.e2e.steps import make_client
from tests.seeds import provisioning_command

pytestmark = pytest.mark.services

SMARTCARD = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
TBS = [
    {
        "key": "tbs",
        "description": "Text to sign",
        "content_type": "text/plain",
        "content_encoding": "base64",
        "data": base64.b64encode(b"Transfer 500 EUR to ACME").decode(),
        "visible": True,
    }
]


def _unique_tbs(text: str) -> list[dict[str, Any]]:
    item = dict(TBS[0])
    item["data"] = base64.b64encode(f"{text} {time.time_ns()}".encode()).decode()
    return [item]


def provisioned(client: Api, device: Device, *, smartcard: str | None = None) -> str:
    """Provision ``device`` through its plug-out link; returns the profile id."""
    body = provisioning_command()
    if smartcard is not None:
        body["provCommand"]["vscinfo"] = {"smartcardid": smartcard}
    created = client.create("provision", body)
    assert device.enroll(created["destinations"][0]["uri"]).completed
    return device.profiles[-1].profile_id


def wait_final(client: Api, command_id: str, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        polled = client.poll(command_id)
        if polled["state"] != "IN_PROGRESS":
            return polled
        time.sleep(0.2)
    raise AssertionError(f"command {command_id} did not end")


def callback_of(receiver: Receiver, command_id: str, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        for item in receiver.received:
            if item.body.get("commandId") == command_id:
                body: dict[str, Any] = item.body
                return body
        time.sleep(0.1)
    raise AssertionError(f"no callback for command {command_id}")


def issue_for(device: Device, profile_id: str, ca: Any) -> str:
    """A base64 DER certificate for the profile's first key, issued by ``ca`` (key, cert)."""
    profile = next(p for p in device.profiles if p.profile_id == profile_id)
    stored = next(iter(profile.keys.values()))
    csr = base64.b64decode(stored.certreq)
    certificate = issue_certificate(csr, *ca)
    return base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()


# --- item 2: desktop web signing and authentication to @tmp without a profile id ---------------


@pytest.mark.parametrize("format_", ["pkcs7", "jws"])
def test_a_page_without_a_profile_gets_a_signature_from_whichever_desktop_app_opens_the_link(
    stack, receiver, tmp_path: Path, format_: str
) -> None:
    client = make_client(stack, receiver)
    desktop = Device(tmp_path / "desktop")
    profile_id = provisioned(client, desktop)
    created = client.create(
        "sign",
        {
            "commandHeader": {"to": ["@tmp"], "externalId": "web-page-1"},
            "signCommand": {"params": {"tbs": _unique_tbs("Pay"), "format": format_}},
        },
    )
    (destination,) = created["destinations"]
    assert "pid" not in destination
    assert desktop.enroll(destination["uri"]).body == {"state": "COMPLETED"}
    result = client.poll(created["commandId"])
    assert result["state"] == "COMPLETED"
    assert result["verification"] == "VERIFIED"
    signer = result["signer"]
    assert signer["verified"] is False
    assert signer["reason"] == "unverified signer"
    assert signer["subject"]
    assert base64.b64decode(signer["certificate"])
    assert result["profile"]["id"] == profile_id
    assert result["profile"]["userid"] == "userA"
    called_back = callback_of(receiver, created["commandId"])
    assert called_back["signer"] == signer
    assert called_back["profile"] == result["profile"]


def test_authenticate_and_startpinreset_to_tmp_need_no_profile_id(
    stack, receiver, tmp_path: Path
) -> None:
    client = make_client(stack, receiver)
    desktop = Device(tmp_path / "desktop")
    provisioned(client, desktop)
    auth = client.create(
        "authenticate",
        {"commandHeader": {"to": ["@tmp"]}, "authCommand": {"params": {"format": "pkcs7"}}},
    )
    assert desktop.enroll(auth["destinations"][0]["uri"]).body == {"state": "COMPLETED"}
    assert client.poll(auth["commandId"])["signer"]["verified"] is False
    spin = client.create(
        "startpinreset",
        {"commandHeader": {"to": ["@tmp"]}, "spinCommand": {"operation": "pinreset"}},
    )
    assert desktop.enroll(spin["destinations"][0]["uri"]).body == {"state": "COMPLETED"}
    result = client.poll(spin["commandId"])
    assert result["state"] == "COMPLETED"
    assert result["spinResponse"]["code"] == 0


def test_a_signer_of_a_trusted_ca_is_verified_and_one_outside_it_is_refused(
    stack, receiver, tmp_path: Path
) -> None:
    group = f"trusting-{time.time_ns()}"
    client = make_client(stack, receiver, group=group)
    ca = make_self_signed_ca("Signer CA")
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(ca[1].public_bytes(serialization.Encoding.PEM))
    stack.manage("hermod_signer_ca", "add", group, str(ca_file), "--label", "test CA")
    assert "Signer CA" in stack.manage("hermod_signer_ca", "list", group)
    trusted = Device(tmp_path / "trusted")
    profile_id = provisioned(client, trusted)
    cert = client.create(
        "certificate",
        {
            "certCommand": {
                "profileid": profile_id,
                "certificates": [
                    {
                        "keyid": "signer",
                        "keystate": "ACTIVE",
                        "data": issue_for(trusted, profile_id, ca),
                    }
                ],
            }
        },
    )
    assert [o.body for o in trusted.run_once()] == [{"state": "COMPLETED"}]
    assert wait_final(client, cert["commandId"])["state"] == "COMPLETED"
    body = {
        "commandHeader": {"to": ["@tmp"]},
        "signCommand": {"params": {"tbs": _unique_tbs("Pay"), "format": "pkcs7"}},
    }
    created = client.create("sign", copy.deepcopy(body))
    assert trusted.enroll(created["destinations"][0]["uri"]).body == {"state": "COMPLETED"}
    signer = client.poll(created["commandId"])["signer"]
    assert signer["verified"] is True
    assert "reason" not in signer
    # A desktop app whose certificate is self-signed: refused, whatever it signed.
    stranger = Device(tmp_path / "stranger")
    provisioned(make_client(stack, receiver), stranger)
    body["signCommand"]["params"]["tbs"] = _unique_tbs("Pay")
    refused = client.create("sign", body)
    outcome = stranger.enroll(refused["destinations"][0]["uri"])
    assert outcome.http_status == 422
    assert (outcome.error or {}).get("code") == "SIGNER_NOT_TRUSTED"
    assert client.poll(refused["commandId"])["failure"]["code"] == "SIGNER_NOT_TRUSTED"


@pytest.mark.parametrize("signer", ["a profile of the group", "a key the group does not know"])
def test_a_profileless_answer_replayed_to_another_tmp_command_is_refused(
    stack, receiver, tmp_path: Path, signer: str
) -> None:
    client = make_client(stack, receiver)
    desktop = Device(tmp_path / "desktop")
    if signer == "a profile of the group":
        provisioned(client, desktop)
    else:
        provisioned(make_client(stack, receiver, group=f"other-{time.time_ns()}"), desktop)
    tbs = _unique_tbs("Pay")
    body = {
        "commandHeader": {"to": ["@tmp"]},
        "signCommand": {"params": {"tbs": tbs, "format": "pkcs7"}},
    }
    first, second = client.create("sign", body), client.create("sign", body)
    (one,), (two,) = first["destinations"], second["destinations"]
    token_one = one["uri"].rsplit("token=", 1)[1]
    token_two = two["uri"].rsplit("token=", 1)[1]
    answer = desktop.build_answer(one["location"], desktop.fetch(one["location"], token_one)).body
    assert desktop.http.post_answer(one["location"], token_one, answer).status == 200
    replay = copy.deepcopy(answer)
    replay["responseHeader"]["inReplyTo"] = two["location"]
    desktop.fetch(two["location"], token_two)
    result = desktop.http.post_answer(two["location"], token_two, replay)
    assert result.status == 422
    assert result.body["error"]["code"] == "SIGNATURE_REPLAYED"
    assert client.poll(first["commandId"])["state"] == "COMPLETED"
    assert client.poll(second["commandId"])["failure"]["code"] == "SIGNATURE_REPLAYED"


def test_a_profileless_jws_must_name_this_command(stack, receiver, tmp_path: Path) -> None:
    client = make_client(stack, receiver)
    provisioned(client, Device(tmp_path / "desktop"))
    faulty = Device(tmp_path / "desktop", faults=Faults(wrong_nonce=True))
    created = client.create(
        "sign",
        {
            "commandHeader": {"to": ["@tmp"]},
            "signCommand": {"params": {"tbs": TBS, "format": "jws"}},
        },
    )
    outcome = faulty.enroll(created["destinations"][0]["uri"])
    assert outcome.http_status == 422
    assert (outcome.error or {}).get("code") == "NONCE_MISMATCH"


# --- item 3: smart-card ids address profiles ---------------------------------------------------


def test_a_smartcard_id_addresses_its_profile_for_certificate_pin_reset_and_delete(
    stack, receiver, tmp_path: Path
) -> None:
    client = make_client(stack, receiver, group=f"desktop-{time.time_ns()}")
    desktop = Device(tmp_path / "desktop")
    profile_id = provisioned(client, desktop, smartcard=SMARTCARD)
    ca = make_self_signed_ca("Issuing CA")
    cert = client.create(
        "certificate",
        {
            "certCommand": {
                "smartcardid": SMARTCARD,
                "certificates": [
                    {
                        "keyid": "signer",
                        "keystate": "ACTIVE",
                        "data": issue_for(desktop, profile_id, ca),
                    }
                ],
                "desktopKeyProtectionLevel": "CONSENT",
            }
        },
    )
    assert cert["destinations"][0]["pid"] == profile_id
    spin = client.create("startpinreset", {"spinCommand": {"smartcardid": SMARTCARD}})
    assert spin["destinations"][0]["pid"] == profile_id
    assert [o.body for o in desktop.run_once()] == [{"state": "COMPLETED"}] * 2
    epin = client.create(
        "endpinreset", {"epinCommand": {"smartcardid": SMARTCARD, "encryptednonce": "8f3a5c7e9b1d"}}
    )
    assert epin["destinations"][0]["pid"] == profile_id
    assert [o.body for o in desktop.run_once()] == [{"state": "COMPLETED"}]
    delete = client.create(
        "delete",
        {"deleteCommand": {"vscinfo": {"smartcardid": SMARTCARD}, "confirmed": "true"}},
    )
    assert delete["destinations"][0]["pid"] == profile_id
    assert [o.body for o in desktop.run_once()] == [{"state": "COMPLETED"}]
    for command in (cert, spin, epin, delete):
        assert wait_final(client, command["commandId"])["state"] == "COMPLETED"
    assert desktop.profiles == []


_UNKNOWN_CARD = [
    (
        "certificate",
        {"certCommand": {"smartcardid": "nope", "certificates": [{"keyid": "signer"}]}},
        None,
    ),
    ("startpinreset", {"spinCommand": {"smartcardid": "nope"}}, "spinCommand.smartcardid"),
    (
        "endpinreset",
        {"epinCommand": {"smartcardid": "nope", "encryptednonce": "00"}},
        "epinCommand.smartcardid",
    ),
    (
        "delete",
        {"deleteCommand": {"vscinfo": {"smartcardid": "nope"}}},
        "deleteCommand.vscinfo.smartcardid",
    ),
]


@pytest.mark.parametrize(("endpoint", "body", "field"), _UNKNOWN_CARD)
def test_an_unknown_smartcard_is_404_naming_the_field(
    stack, receiver, endpoint: str, body: dict[str, Any], field: str | None
) -> None:
    client = make_client(stack, receiver)
    if field is None:  # a certificate command needs a parseable certificate to get that far
        _, ca_cert = make_self_signed_ca("Any")
        der = ca_cert.public_bytes(serialization.Encoding.DER)
        body["certCommand"]["certificates"][0]["data"] = base64.b64encode(der).decode()
        field = "certCommand.smartcardid"
    response = client.command(endpoint, body)
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "SMARTCARD_NOT_FOUND"
    assert response.json()["error"]["field"] == field


# --- item 4: signature formats -----------------------------------------------------------------


def test_a_raw_pkcs1_signature_is_verified_and_a_tampered_one_refused(
    stack, receiver, tmp_path: Path
) -> None:
    client = make_client(stack, receiver)
    phone = Device(tmp_path / "phone")
    profile_id = provisioned(client, phone)
    params = {
        "tbs": _unique_tbs("Pay"),
        "filter": {"op": "eq", "param": "key.type", "value": "RSA"},
        "format": "RAW",
        "mechanism": "CKM_SHA256_RSA_PKCS",
    }
    created = client.create("sign", {"signCommand": {"profileid": profile_id, "params": params}})
    assert [o.body for o in phone.run_once()] == [{"state": "COMPLETED"}]
    result = wait_final(client, created["commandId"])
    assert result["state"] == "COMPLETED"
    assert result["verification"] == "VERIFIED"
    assert result["signResponse"]["result"]["contenttype"] == "raw"
    tampered = Device(tmp_path / "phone", faults=Faults(tampered_payload=True))
    params["tbs"] = _unique_tbs("Pay")
    refused = client.create("sign", {"signCommand": {"profileid": profile_id, "params": params}})
    (outcome,) = tampered.run_once()
    assert outcome.http_status == 422
    assert (
        wait_final(client, refused["commandId"])["failure"]["code"] == "SIGNATURE_RAW_BAD_SIGNATURE"
    )


def test_an_xml_signature_completes_as_not_verified_by_the_server(
    stack, receiver, tmp_path: Path
) -> None:
    client = make_client(stack, receiver)
    phone = Device(tmp_path / "phone")
    profile_id = provisioned(client, phone)
    created = client.create(
        "sign",
        {"signCommand": {"profileid": profile_id, "params": {"tbs": TBS, "format": "XMLDSIG"}}},
    )
    assert [o.body for o in phone.run_once()] == [{"state": "COMPLETED"}]
    result = wait_final(client, created["commandId"])
    assert result["state"] == "COMPLETED"
    assert result["verification"] == "NOT_VERIFIED_BY_SERVER"
    assert callback_of(receiver, created["commandId"])["verification"] == "NOT_VERIFIED_BY_SERVER"


def test_a_raw_signature_to_tmp_without_profile_is_refused_when_created(stack, receiver) -> None:
    client = make_client(stack, receiver)
    response = client.command(
        "sign",
        {
            "commandHeader": {"to": ["@tmp"]},
            "signCommand": {"params": {"tbs": TBS, "format": "raw"}},
        },
    )
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "signCommand.params.format"


# --- item 5: progress per destination ----------------------------------------------------------


def test_each_destination_shows_its_progress_in_sync_poll_and_callback_bodies(
    stack, receiver, tmp_path: Path
) -> None:
    client = make_client(stack, receiver, group=f"progress-{time.time_ns()}")
    phone, laptop = Device(tmp_path / "phone"), Device(tmp_path / "laptop")
    provisioned(client, phone)
    provisioned(client, laptop)
    created = client.create(
        "sign",
        {
            "commandHeader": {"to": ["@userA"]},
            "signCommand": {"params": {"tbs": _unique_tbs("Pay")}},
        },
    )
    assert [(d["state"], d["fetchedAt"]) for d in created["destinations"]] == [
        ("WAITING", None)
    ] * 2
    first = created["destinations"][0]
    phone_profile = phone.profiles[0]
    (owner,) = [d for d in created["destinations"] if d["pid"] == phone_profile.profile_id]
    message = phone.fetch(owner["location"], phone_profile.boxtoken)
    polled = {d["pid"]: d for d in client.poll(created["commandId"])["destinations"]}
    assert polled[owner["pid"]]["state"] == "FETCHED"
    assert polled[owner["pid"]]["fetchedAt"].endswith("Z")
    others = [d for pid, d in polled.items() if pid != owner["pid"]]
    assert [(d["state"], d["fetchedAt"]) for d in others] == [("WAITING", None)]
    assert phone.answer(owner["location"], phone_profile.boxtoken, message).completed
    final = {d["pid"]: d for d in callback_of(receiver, created["commandId"])["destinations"]}
    assert final[owner["pid"]]["state"] == "ANSWERED"
    assert final[owner["pid"]]["fetchedAt"] == polled[owner["pid"]]["fetchedAt"]
    assert [d["state"] for pid, d in final.items() if pid != owner["pid"]] == ["WITHDRAWN"]
    # Existing members keep their order; the progress members come last.
    assert list(first)[:6] == ["to", "bid", "uri", "pid", "mid", "location"]


def _post(location: str, token: str, answer: dict[str, Any], start: threading.Barrier) -> Any:
    start.wait(timeout=10)
    return requests.post(
        location, json=answer, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def test_a_profileless_signature_and_its_replay_racing_complete_exactly_one_command(
    stack, receiver, tmp_path: Path
) -> None:
    """Two web processes, the same PKCS#7 posted to two @tmp commands at the same moment: the
    unique constraint on (signer key, fingerprint) lets exactly one complete."""
    client = make_client(stack, receiver, group=f"race-{time.time_ns()}")
    desktop = Device(tmp_path / "desktop")
    provisioned(make_client(stack, receiver, group=f"elsewhere-{time.time_ns()}"), desktop)
    body = {
        "commandHeader": {"to": ["@tmp"]},
        "signCommand": {"params": {"tbs": _unique_tbs("Pay"), "format": "pkcs7"}},
    }
    with ThreadPoolExecutor(max_workers=2) as pool:
        for _ in range(4):
            first, second = client.create("sign", body), client.create("sign", body)
            (one,), (two,) = first["destinations"], second["destinations"]
            tokens = [d["uri"].rsplit("token=", 1)[1] for d in (one, two)]
            answer = desktop.build_answer(
                one["location"], desktop.fetch(one["location"], tokens[0])
            ).body
            replay = copy.deepcopy(answer)
            replay["responseHeader"]["inReplyTo"] = two["location"]
            start = threading.Barrier(2)
            futures = [
                pool.submit(_post, one["location"], tokens[0], answer, start),
                pool.submit(_post, two["location"], tokens[1], replay, start),
            ]
            responses = [future.result() for future in futures]
            assert sorted(r.status_code for r in responses) == [200, 422]
            (refused,) = [r for r in responses if r.status_code == 422]
            assert refused.json()["error"]["code"] == "SIGNATURE_REPLAYED"
