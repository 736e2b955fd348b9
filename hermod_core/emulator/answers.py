"""Building the device's answer to one message (docs/PROTOCOL.md §6), without sending it.

`build_answer` is pure apart from key generation and randomness: it reads the fetched message and
the device's state and returns the answer body plus what the device must remember once the
server accepted it (`envelope.Answer`). Provisioning lives in `provisioning`, auth/sign in
`signing`; the small answers (cert, ping, spin, epin, delete) are here.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

from hermod_core.crypto.digests import b64decode_strict
from hermod_core.crypto.errors import CryptoError
from hermod_core.emulator.envelope import (
    CODE_DECLINED,
    CODE_DEVICE_ERROR,
    CODE_NOT_SUPPORTED,
    CODE_OK,
    Answer,
    AnswerContext,
    Refusal,
    decode_b64,
    envelope,
    flag,
)
from hermod_core.emulator.provisioning import build_provision
from hermod_core.emulator.signing import build_signature
from hermod_core.emulator.state import StoredProfile


def _json_result(data: dict[str, Any]) -> dict[str, Any]:
    return {"contenttype": "json", "data": json.dumps(data, separators=(",", ":"))}


def _certificate_hashes(profile: StoredProfile) -> str:
    hashes = []
    for data in profile.certificates.values():
        try:
            hashes.append(hashlib.sha256(b64decode_strict(data)).hexdigest())
        except CryptoError:
            continue  # a certificate the device cannot read has no hash to report
    return ",".join(hashes)


def _ping(context: AnswerContext) -> Answer:
    body = context.command("pingCommand")
    data: dict[str, Any] = {}
    if flag(body.get("deviceinfo"), default=False):
        data["deviceinfo"] = dict(context.deviceinfo)
    if flag(body.get("profileinfo"), default=False):
        # Every profile of this installation, as the desktop app reports them (seed 000).
        data["profileinfo"] = [
            {
                "guid": p.guid,
                "name": p.name,
                "issuer": p.servername,
                "pid": p.profile_id,
                "activated": p.activated,
                "certificates": _certificate_hashes(p),
            }
            for p in context.profiles
        ]
    return Answer("PING", envelope(context, CODE_OK, _json_result(data)))


def _certificate(context: AnswerContext) -> Answer:
    items = context.command("certCommand").get("certificates")
    if not isinstance(items, list):
        raise Refusal(CODE_DEVICE_ERROR, "the certificate command has no certificates")
    certificates: dict[str, str] = {}
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("keyid"), str):
            decode_b64(item.get("data"), "a certificate")
            certificates[item["keyid"]] = "".join(str(item["data"]).split())
    return Answer("CERT", envelope(context, CODE_OK), certificates=certificates)


def _spin(context: AnswerContext) -> Answer:
    context.command("spinCommand")
    nonce = secrets.token_hex(16)
    return Answer(
        "SPIN", envelope(context, CODE_OK, _json_result({"nonce": nonce})), spin_nonce=nonce
    )


def _epin(context: AnswerContext) -> Answer:
    new_admin_key = context.command("epinCommand").get("newadminkey")
    return Answer(
        "EPIN",
        envelope(context, CODE_OK),
        new_admin_key=new_admin_key if isinstance(new_admin_key, str) else None,
    )


def _delete(context: AnswerContext) -> Answer:
    confirmed = flag(context.command("deleteCommand").get("confirmed"), default=True)
    return Answer("DELETE", envelope(context, CODE_OK), delete_profile=confirmed)


def build_answer(context: AnswerContext, *, decline: bool = False) -> Answer:
    """The answer to `context.message`: declined (code 1), refused (code 2–4) or complied (0)."""
    kind = context.command_type
    if decline:
        return Answer(kind, envelope(context, CODE_DECLINED))
    try:
        if kind == "PROV":
            return build_provision(context)
        if kind in ("AUTH", "SIGN"):
            return build_signature(context)
        if kind == "PING":
            return _ping(context)
        if kind == "CERT":
            return _certificate(context)
        if kind == "SPIN":
            return _spin(context)
        if kind == "EPIN":
            return _epin(context)
        if kind == "DELETE":
            return _delete(context)
        raise Refusal(CODE_NOT_SUPPORTED, f"unknown command type {kind!r}")
    except Refusal as refusal:
        return Answer(kind, envelope(context, refusal.code))
