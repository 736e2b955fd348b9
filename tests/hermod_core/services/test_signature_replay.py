"""A signature value completes one command of its profile, never a second (docs/PROTOCOL.md §6.3,
issue 10): services.answers records every accepted one in AcceptedSignature, in the transaction
that completes the command, and its unique constraint refuses a replay as SIGNATURE_REPLAYED."""

import base64
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings

from hermod_core.crypto import jwk, jws
from hermod_core.crypto.cms import verify_signed_data
from hermod_core.crypto.signatures import signature_fingerprint
from hermod_core.emulator.device import Device
from hermod_core.models import AcceptedSignature, Command, Key, Profile
from hermod_core.services import answers
from tests.factories import Persona
from tests.matchers import PROVISIONED
from tests.seeds import provisioning_command

pytestmark = pytest.mark.django_db

PREFIX = f"/{settings.HERMOD_API_PREFIX}"
TEXT = b"Pay 100 EUR"


def post_json(client: Any, path: str, body: Any, **extra: Any) -> Any:
    return client.post(path, body, content_type="application/json", **extra)


class Phone:
    """A device provisioned through its plug-out link, answering in its permanent box."""

    def __init__(self, client: Any, persona: Persona, folder: Path) -> None:
        self.client, self.persona = client, persona
        created = self.command("provision", provisioning_command())
        destination = created["destinations"][0]
        token = parse_qs(urlsplit(destination["uri"]).query)["token"][0]
        self.device = Device(folder)
        message = client.get(
            urlsplit(destination["location"]).path, HTTP_AUTHORIZATION=f"Bearer {token}"
        ).json()
        built = self.device.build_answer(destination["location"], message)
        answered = self.post(destination["location"], built.body, token)
        assert answered.json() == PROVISIONED
        self.device.remember(built, answered.json())
        self.profile = self.device.profiles[0]

    def command(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        response = post_json(self.client, f"{PREFIX}/command/{name}", body, **self.persona.headers)
        assert response.status_code == 200, response.content
        result: dict[str, Any] = response.json()
        return result

    def sign(self, format_: str, text: bytes = TEXT) -> tuple[str, str]:
        """A sign command for the profile: (command id, message location)."""
        created = self.command(
            "sign",
            {
                "signCommand": {
                    "profileid": self.profile.profile_id,
                    "params": {
                        "tbs": [{"data": base64.b64encode(text).decode()}],
                        "format": format_,
                    },
                }
            },
        )
        return created["commandId"], created["destinations"][0]["location"]

    def answer_of(self, location: str) -> dict[str, Any]:
        """The honest device's answer to the message at `location` (not sent)."""
        message = self.client.get(
            urlsplit(location).path, HTTP_AUTHORIZATION=f"Bearer {self.profile.boxtoken}"
        ).json()
        body: dict[str, Any] = self.device.build_answer(location, message).body
        return body

    def post(self, location: str, body: Any, token: str | None = None) -> Any:
        bearer = token or self.profile.boxtoken
        return post_json(
            self.client, urlsplit(location).path, body, HTTP_AUTHORIZATION=f"Bearer {bearer}"
        )


@pytest.fixture
def phone(client: Any, client_a: Persona, tmp_path: Path) -> Phone:
    return Phone(client, client_a, tmp_path / "phone")


def fingerprint_of(profile_id: str, format_: str, data: str) -> str:
    """What the server records for an honest answer's result data."""
    key = jwk.public_key_from_jwk(Key.objects.get(profile_id=profile_id).jwk)
    if format_ == "jws":
        signature = jws.parse_compact(data).signature
        return signature_fingerprint(key, signature, ecdsa_encoding="raw")
    verified = verify_signed_data(data, expected_key=key, content=TEXT)
    return signature_fingerprint(key, verified.signature, ecdsa_encoding="der")


def result_data(answer: dict[str, Any]) -> str:
    data: str = answer["signResponse"]["result"]["data"]
    return data


@pytest.mark.parametrize("format_", ["jws", "pkcs7"])
def test_an_accepted_signature_is_recorded_for_its_profile(phone: Phone, format_: str) -> None:
    _, location = phone.sign(format_)
    answer = phone.answer_of(location)
    assert phone.post(location, answer).json() == {"state": "COMPLETED"}
    (row,) = AcceptedSignature.objects.all()
    assert str(row.profile_id) == phone.profile.profile_id
    assert row.sha256 == fingerprint_of(phone.profile.profile_id, format_, result_data(answer))


@pytest.mark.parametrize("format_", ["jws", "pkcs7"])
def test_the_same_text_signed_again_for_a_new_command_completes(phone: Phone, format_: str) -> None:
    """Replay refusal costs the honest device nothing: a new command gets a new signature."""
    for _ in range(2):
        _, location = phone.sign(format_)
        assert phone.post(location, phone.answer_of(location)).json() == {"state": "COMPLETED"}
    assert AcceptedSignature.objects.count() == 2


def test_a_refused_answer_records_no_signature(phone: Phone) -> None:
    _, location = phone.sign("jws")
    answer = phone.answer_of(location)
    answer["responseHeader"]["inReplyTo"] += "x"
    assert phone.post(location, answer).status_code == 422
    _, location = phone.sign("pkcs7", b"other text")
    answer = phone.answer_of(location)
    answer["signResponse"]["result"]["data"] = phone.answer_of(phone.sign("pkcs7")[1])[
        "signResponse"
    ]["result"]["data"]  # signs another text: SIGNATURE_CMS_CONTENT_MISMATCH
    response = phone.post(location, answer)
    assert response.json()["error"]["code"] == "SIGNATURE_CMS_CONTENT_MISMATCH"
    assert not AcceptedSignature.objects.exists()


@pytest.mark.parametrize("format_", ["jws", "pkcs7"])
def test_a_signature_already_accepted_for_the_profile_is_refused_and_fails_the_command(
    phone: Phone, format_: str
) -> None:
    """Whatever else holds (here even the JWS nonce: as if command ids had started over, after a
    restore), a signature value accepted before for the profile completes nothing. Told apart
    from the provisioning race answer_accept also sees as an IntegrityError."""
    command_id, location = phone.sign(format_)
    answer = phone.answer_of(location)
    fingerprint = fingerprint_of(phone.profile.profile_id, format_, result_data(answer))
    AcceptedSignature.objects.create(profile_id=phone.profile.profile_id, sha256=fingerprint)
    response = phone.post(location, answer)
    assert response.status_code == 422, response.content
    assert response.json()["error"]["code"] == "SIGNATURE_REPLAYED"
    command = Command.objects.get(pk=command_id)
    assert (command.state, command.failure_code) == ("FAILED", "SIGNATURE_REPLAYED")
    assert command.answer == answer  # kept for the record, as for every rejection
    assert AcceptedSignature.objects.count() == 1


def test_a_fingerprint_of_another_profile_does_not_refuse_this_one(
    phone: Phone, client: Any, client_a: Persona, tmp_path: Path
) -> None:
    other = Phone(client, client_a, tmp_path / "other")
    _, location = phone.sign("pkcs7")
    answer = phone.answer_of(location)
    fingerprint = fingerprint_of(phone.profile.profile_id, "pkcs7", result_data(answer))
    AcceptedSignature.objects.create(profile_id=other.profile.profile_id, sha256=fingerprint)
    assert phone.post(location, answer).json() == {"state": "COMPLETED"}
    assert AcceptedSignature.objects.filter(sha256=fingerprint).count() == 2


def test_the_signature_is_not_recorded_when_the_completion_loses(
    phone: Phone, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The row is written in the completing transaction: if the command ended meanwhile (the
    transition lost), the device gets 404 and the signature stays unused."""
    _, location = phone.sign("pkcs7")
    answer = phone.answer_of(location)
    monkeypatch.setattr(answers, "command_transition", lambda **_: False)
    assert phone.post(location, answer).status_code == 404
    assert not AcceptedSignature.objects.exists()


def test_a_deleted_profile_takes_its_fingerprints_along(phone: Phone) -> None:
    _, location = phone.sign("jws")
    assert phone.post(location, phone.answer_of(location)).json() == {"state": "COMPLETED"}
    Profile.objects.filter(pk=phone.profile.profile_id).delete()
    assert not AcceptedSignature.objects.exists()
