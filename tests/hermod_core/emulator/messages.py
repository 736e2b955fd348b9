"""Test material for the reference device: fast keys and messages shaped like the server's.

RSA keys come from a small pool generated once per session (RSA 4096 takes a second or more to
generate); the pool hands them out in turn, so two keys asked for in a row always differ — the
wrong-key faults depend on that.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Iterator
from typing import Any

import requests
import requests.adapters

from hermod_core.crypto.jwk import PrivateKey
from hermod_core.emulator.keys import generate_key
from hermod_core.protocol.answers import Envelope, ProvisionExpectation, parse_envelope
from hermod_core.protocol.commands import parse_key_requests
from tests.hermod_core.crypto.vectors import SEED_DUMMY_CSR_B64

PUBLIC_URL = "https://hermod.example.com:20400/hermod/rest/ms"
FQDN = "hermod.example.com"
NONCE = "123456789"
MECHANISMS = {("EC", 256): "ES256", ("EC", 384): "ES384"}


class KeyPool:
    """A key factory for `Device(key_factory=...)`: pooled RSA keys, fresh (cheap) EC keys."""

    def __init__(self) -> None:
        self._pools: dict[int, Iterator[PrivateKey]] = {}

    def __call__(self, keytype: str, keylength: int) -> PrivateKey:
        if keytype != "RSA":
            return generate_key(keytype, keylength)
        if keylength not in self._pools:
            keys = [generate_key("RSA", keylength) for _ in range(3)]
            self._pools[keylength] = itertools.cycle(keys)
        return next(self._pools[keylength])


def key_request(
    keyid: str = "signer", keytype: str = "RSA", keylength: int = 2048, usage: str = "SIG"
) -> dict[str, Any]:
    """A `keygenrequests` item like the seed's (keylength as a string, as integrations send)."""
    return {
        "keyid": keyid,
        "usage": usage,
        "keytypeprios": [
            {
                "keytype": keytype,
                "keylength": str(keylength),
                "responsemechanism": MECHANISMS.get((keytype, keylength), "RS256"),
            }
        ],
        "storageprios": ["APP"],
        "keystate": "ACTIVE",
        "certreq": SEED_DUMMY_CSR_B64,
    }


class ProvisionCase:
    """A provisioning message as `GET /ms/{bid}/{mid}` returns it, and its expectation."""

    def __init__(self, *requests: dict[str, Any], extra: dict[str, Any] | None = None) -> None:
        self.bid, self.mid = uuid.uuid4(), uuid.uuid4()
        self.profile_id, self.box_id = uuid.uuid4(), uuid.uuid4()
        self.location = f"{PUBLIC_URL}/{self.bid}/{self.mid}"
        self.profile = {
            "servername": "nexus-cod1",
            "name": "TestProfile",
            "keygenrequests": list(requests) or [key_request()],
        }
        self.message: dict[str, Any] = {
            "messageHeader": {
                "mid": str(self.mid),
                "bid": str(self.bid),
                "location": self.location,
                "commandId": "18092",
                "commandType": "PROV",
                "fqdn": FQDN,
                "expires": "2030-01-01T00:00:00Z",
            },
            "provCommand": {
                "nonce": NONCE,
                "userid": "userA",
                "responsesignaturekey": "ATTESTATION",
                "responseformat": "jws",
                "profile": self.profile,
                **(extra or {}),
            },
            "assigned": {
                "profileid": str(self.profile_id),
                "boxurl": f"{PUBLIC_URL}/{self.box_id}",
            },
        }

    def expectation(self) -> ProvisionExpectation:
        return ProvisionExpectation(
            nonce=NONCE,
            userid="userA",
            servername="nexus-cod1",
            name="TestProfile",
            key_requests=parse_key_requests(self.profile, "provCommand.profile"),
            public_url=PUBLIC_URL,
            assigned_profile_id=self.profile_id,
            assigned_box_id=self.box_id,
            trusted_thumbprints=frozenset(),
        )


def envelope_of(body: dict[str, Any], answer_key: str) -> Envelope:
    return parse_envelope(body, answer_key)


class FakeMailbox(requests.adapters.BaseAdapter):
    """An in-memory stand-in for the mailbox API at the transport level (no server).

    `routes[(method, url)]` is `(status, body)` or a callable `request -> (status, body)`;
    every request is recorded so tests can check headers, tokens and the posted answers.
    """

    def __init__(self) -> None:
        super().__init__()
        self.routes: dict[tuple[str, str], Any] = {}
        self.requests: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.requests.append(request)
        url = str(request.url).split("?", 1)[0]
        route = self.routes.get((str(request.method), url), (404, {"error": {"code": "NOT_FOUND"}}))
        status, body = route(request) if callable(route) else route
        response = requests.Response()
        response.status_code = status
        response._content = json.dumps(body).encode()
        response.headers["Content-Type"] = "application/json"
        response.url = str(request.url)
        response.request = request
        return response

    def close(self) -> None:
        pass

    def session(self) -> requests.Session:
        session = requests.Session()
        session.mount("https://", self)
        return session

    def posted(self) -> list[dict[str, Any]]:
        """The JSON bodies of every POST, in order."""
        return [json.loads(r.body or b"{}") for r in self.requests if r.method == "POST"]
