"""Deliberate faults the reference device can commit, so tests can prove the server refuses them.

Each flag breaks exactly one rule of docs/PROTOCOL.md §6.2 / §6.3 (or, for `wrong_inreplyto`, of
§6). `FAULT_HELP` documents, for people and for `--help`, what the device then does and which error
code the server answers with (`422` and the code; the command ends FAILED). A flag that has no
meaning for a message type leaves that answer untouched (e.g. `wrong_tbs` on a provisioning).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Final


@dataclass(frozen=True)
class Faults:
    """Which deliberate faults to commit; all False is an honest device."""

    wrong_nonce: bool = False
    tampered_payload: bool = False
    wrong_key: bool = False
    other_subject: bool = False
    alg_none: bool = False
    hs256: bool = False
    wrong_fqdn: bool = False
    missing_key: bool = False
    small_key: bool = False
    wrong_inreplyto: bool = False
    wrong_tbs: bool = False
    csr_key_mismatch: bool = False
    no_signed_attributes: bool = False
    stale_signing_time: bool = False

    @classmethod
    def from_names(cls, names: Iterable[str]) -> Faults:
        """Faults from CLI spellings (`wrong-nonce`) or field names; ValueError for unknown ones."""
        known = {f.name for f in fields(cls)}
        chosen: dict[str, bool] = {}
        for name in names:
            field_name = name.strip().replace("-", "_")
            if field_name not in known:
                raise ValueError(f"unknown fault {name!r}; known: {', '.join(fault_names())}")
            chosen[field_name] = True
        return cls(**chosen)

    @property
    def active(self) -> tuple[str, ...]:
        """CLI spellings of the faults that are on, in declaration order."""
        return tuple(f.name.replace("_", "-") for f in fields(self) if getattr(self, f.name))


def fault_names() -> tuple[str, ...]:
    """Every fault in its CLI spelling (`wrong-nonce` …), in declaration order."""
    return tuple(f.name.replace("_", "-") for f in fields(Faults))


# CLI spelling -> (what the device does, the server's error code(s)).
FAULT_HELP: Final[dict[str, tuple[str, str]]] = {
    "wrong-nonce": (
        "signs a nonce that is not the command's (provisioning header and signed keys; "
        "auth/sign jws payload)",
        "NONCE_MISMATCH",
    ),
    "tampered-payload": (
        "flips a payload byte after signing (provisioning JWS, auth/sign jws; pkcs7: the "
        "signature's last byte)",
        "ATTESTATION_JWS_BAD_SIGNATURE / SIGNATURE_JWS_BAD_SIGNATURE / SIGNATURE_CMS_BAD_SIGNATURE",
    ),
    "wrong-key": (
        "signs each signed-key entry, and auth/sign answers, with another key of the same type",
        "SIGNEDKEY_JWS_BAD_SIGNATURE / SIGNATURE_JWS_BAD_SIGNATURE / SIGNATURE_CMS_WRONG_KEY",
    ),
    "other-subject": (
        "re-keys the CSR with a different CN than the template's",
        "CSR_SUBJECT_MISMATCH",
    ),
    "alg-none": (
        'sends the provisioning JWS (and auth/sign jws) with alg "none" and no signature',
        "ATTESTATION_JWS_ALG_NOT_ALLOWED / SIGNATURE_JWS_ALG_NOT_ALLOWED",
    ),
    "hs256": (
        "HMACs the provisioning JWS (and auth/sign jws) with the public key's PEM as the secret "
        "(the classic key-confusion attack)",
        "ATTESTATION_JWS_ALG_NOT_ALLOWED / SIGNATURE_JWS_ALG_NOT_ALLOWED",
    ),
    "wrong-fqdn": (
        'claims to talk to "wrong.invalid" in the provisioning header',
        "FQDN_MISMATCH",
    ),
    "missing-key": ("omits the last signedkeys entry", "SIGNEDKEYS_COUNT"),
    "small-key": (
        "generates RSA 1024 for RSA requests, the other curve for EC requests",
        "SIGNEDKEY_JWK_INVALID (RSA) / KEY_TYPE_NOT_REQUESTED (EC)",
    ),
    "wrong-inreplyto": (
        "puts another message's location in responseHeader.inReplyTo (every answer)",
        "IN_REPLY_TO_MISMATCH",
    ),
    "wrong-tbs": (
        "signs the digest of other data than the tbs items (auth/sign)",
        "TBS_DIGEST_MISMATCH (jws) / SIGNATURE_CMS_CONTENT_MISMATCH (pkcs7)",
    ),
    "csr-key-mismatch": (
        "re-keys the CSR with another key than the signed JWK's",
        "CSR_KEY_MISMATCH",
    ),
    "no-signed-attributes": (
        "signs the tbs data itself, without signed attributes (auth/sign pkcs7)",
        "SIGNED_ATTRIBUTES_MISSING",
    ),
    "stale-signing-time": (
        "signs with a signingTime an hour in the past (auth/sign pkcs7)",
        "SIGNING_TIME_OUT_OF_RANGE",
    ),
}
