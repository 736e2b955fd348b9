"""The device's memory: its attestation key and its provisioned profiles, in one JSON file.

Layout: `<state dir>/device.json`, written atomically (temporary file + rename) with mode 0600,
because it holds private keys in the clear. It is a test fixture's wallet, not a secure store.
One process per state folder: two devices sharing a folder would overwrite each other.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Final

from hermod_core.crypto.jwk import PrivateKey
from hermod_core.emulator.keys import KeyFactory, generate_key, load_private_key, private_key_pem

STATE_FILE: Final = "device.json"
_FORMAT: Final = 1


@dataclass
class StoredKey:
    """One profile key as provisioned: its private key (PEM) and the JWK it was reported as.

    The key is parsed from `private_key_pem` once, on first use, and then kept: parsing (and so
    validating) an RSA key costs some 40 ms, which every signature would otherwise pay. The
    parsed key is not a dataclass field, so it is neither compared nor saved.
    """

    keyid: str
    usage: str
    keytype: str
    keylength: int
    keystate: str
    alg: str
    private_key_pem: str
    jwk: dict[str, Any]
    certreq: str

    @cached_property
    def _parsed_key(self) -> PrivateKey:
        return load_private_key(self.private_key_pem)

    def private_key(self) -> PrivateKey:
        return self._parsed_key


@dataclass
class StoredProfile:
    """One provisioned profile: ids, its permanent box and token, keys and certificates.

    `certificates` maps keyid to the base64 DER a certificate command delivered. The desktop
    fields are kept as the provisioning command sent them (docs/PROTOCOL.md §5.1).
    """

    profile_id: str
    boxurl: str
    boxtoken: str
    userid: str
    name: str
    servername: str
    keys: dict[str, StoredKey]
    certificates: dict[str, str] = field(default_factory=dict)
    guid: str = ""
    activated: str = ""
    vscinfo: dict[str, Any] = field(default_factory=dict)
    desktop_extensions: list[Any] = field(default_factory=list)
    desktop_key_protection_level: str = ""
    spin_nonce: str = ""
    # What the app displayed (docs/PROTOCOL.md §13): the card images of the provisioning and the
    # images of the latest requests (newest last), each as key, content type, size and SHA-256.
    visual_data: list[dict[str, Any]] = field(default_factory=list)
    shown: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> StoredProfile:
        keys = {keyid: StoredKey(**key) for keyid, key in raw.get("keys", {}).items()}
        return cls(**{**raw, "keys": keys})


class DeviceState:
    """The attestation key and profiles of one state folder; `save` persists every change.

    The attestation key is generated the first time a folder is used (RSA 2048, or P-256 with
    `attestation="ec"`) and kept for good: a real app has one attestation key per installation,
    so a later `attestation` argument does not replace it.
    """

    def __init__(
        self, directory: Path, *, attestation: str = "rsa", new_key: KeyFactory = generate_key
    ) -> None:
        if attestation not in ("rsa", "ec"):
            raise ValueError('attestation must be "rsa" or "ec"')
        self.directory = directory
        self.path = directory / STATE_FILE
        self.profiles: list[StoredProfile] = []
        if self.path.exists():
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            self.attestation_key = load_private_key(raw["attestation_key_pem"])
            self.profiles = [StoredProfile.from_json(p) for p in raw.get("profiles", [])]
        else:
            self.attestation_key = (
                new_key("RSA", 2048) if attestation == "rsa" else new_key("EC", 256)
            )
            self.save()

    def profile(self, profile_id: str) -> StoredProfile | None:
        return next((p for p in self.profiles if p.profile_id == profile_id), None)

    def profile_for_box(self, box_url: str) -> StoredProfile | None:
        """The profile whose permanent box is `box_url` (trailing slashes ignored)."""
        wanted = box_url.rstrip("/")
        return next((p for p in self.profiles if p.boxurl.rstrip("/") == wanted), None)

    def put(self, profile: StoredProfile) -> None:
        """Add `profile`, replacing a stored one with the same id, and save."""
        self.profiles = [p for p in self.profiles if p.profile_id != profile.profile_id]
        self.profiles.append(profile)
        self.save()

    def remove(self, profile_id: str) -> None:
        self.profiles = [p for p in self.profiles if p.profile_id != profile_id]
        self.save()

    def save(self) -> None:
        """Write the whole state atomically: a crash leaves the old file or the new one."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        body = {
            "format": _FORMAT,
            "attestation_key_pem": private_key_pem(self.attestation_key),
            "profiles": [p.as_json() for p in self.profiles],
        }
        handle, temporary = tempfile.mkstemp(dir=self.directory, prefix=".device-", suffix=".json")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(body, stream, indent=2)
            os.chmod(temporary, 0o600)
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
