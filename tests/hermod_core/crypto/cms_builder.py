"""Hand-built CMS SignedData for tests: every knob the cryptography builder does not expose.

Used to make the shapes real devices may send but `sign_data` never produces — no signed
attributes, a subjectKeyIdentifier signer id, unsorted attributes, odd algorithms — and broken
ones (missing attributes, several signers).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from asn1crypto import algos, cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from hermod_core.crypto.jwk import PrivateKey

_HASHES: dict[str, type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


@dataclass
class CmsSpec:
    content: bytes
    key: PrivateKey
    certificate: x509.Certificate
    detached: bool = False
    digest: str = "sha256"
    signature_algorithm: str | None = None  # default: rsassa_pkcs1v15 / sha*_ecdsa
    signature_parameters: Any = None
    pss_salt_length: int | None = None
    signed_attributes: bool = False
    attributes_override: list[dict[str, Any]] | None = None
    unsorted_attributes: bool = False
    sid: str = "issuer_and_serial_number"
    include_certificate: bool = True
    extra_certificates: list[x509.Certificate] = field(default_factory=list)
    signers: int = 1
    message_digest_of: bytes | None = None  # sign a digest of other bytes than the content
    signing_time: datetime | None = None  # a signingTime attribute (UTCTime) with the defaults


def _asn1_certificate(certificate: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))


def _sign(spec: CmsSpec, data: bytes) -> bytes:
    hash_alg = _HASHES.get(spec.digest, hashes.SHA256)()
    if isinstance(spec.key, rsa.RSAPrivateKey):
        if spec.pss_salt_length is not None:
            pss = padding.PSS(padding.MGF1(hash_alg), spec.pss_salt_length)
            return spec.key.sign(data, pss, hash_alg)
        return spec.key.sign(data, padding.PKCS1v15(), hash_alg)
    assert isinstance(spec.key, ec.EllipticCurvePrivateKey)
    return spec.key.sign(data, ec.ECDSA(hash_alg))


def _attributes(spec: CmsSpec) -> cms.CMSAttributes:
    if spec.attributes_override is not None:
        return cms.CMSAttributes(spec.attributes_override)
    digested = spec.content if spec.message_digest_of is None else spec.message_digest_of
    attributes: list[dict[str, Any]] = [
        {"type": "content_type", "values": ["data"]},
        {"type": "message_digest", "values": [hashlib.new(spec.digest, digested).digest()]},
    ]
    if spec.signing_time is not None:
        attributes.append({"type": "signing_time", "values": [utc_time(spec.signing_time)]})
    return cms.CMSAttributes(attributes)


def utc_time(value: datetime) -> cms.Time:
    """A signingTime value as RFC 5652 §11.3 encodes 1950–2049: UTCTime."""
    return cms.Time(name="utc_time", value=value)


def build_cms(spec: CmsSpec) -> bytes:
    """DER ContentInfo(SignedData) as `spec` says."""
    certificate = _asn1_certificate(spec.certificate)
    if spec.sid == "subject_key_identifier":
        sid = cms.SignerIdentifier({"subject_key_identifier": certificate.key_identifier})
        version = "v3"
    else:
        sid = cms.SignerIdentifier(
            {
                "issuer_and_serial_number": {
                    "issuer": certificate.issuer,
                    "serial_number": certificate.serial_number,
                }
            }
        )
        version = "v1"
    default_algorithm = (
        "rsassa_pkcs1v15" if isinstance(spec.key, rsa.RSAPrivateKey) else f"{spec.digest}_ecdsa"
    )
    algorithm: dict[str, Any] = {"algorithm": spec.signature_algorithm or default_algorithm}
    if spec.signature_parameters is not None:
        algorithm["parameters"] = spec.signature_parameters

    info: dict[str, Any] = {
        "version": version,
        "sid": sid,
        "digest_algorithm": {"algorithm": spec.digest},
        "signature_algorithm": algorithm,
    }
    swap: tuple[bytes, bytes] | None = None
    if spec.signed_attributes:
        attributes = _attributes(spec)
        sorted_set = attributes.dump()
        if spec.unsorted_attributes:
            # Same attributes, reverse order: what a non-DER encoder sends and signs.
            children = [attribute.dump() for attribute in attributes]
            sent_set = sorted_set[: len(sorted_set) - sum(map(len, children))] + b"".join(
                reversed(children)
            )
            assert sent_set != sorted_set
            swap = (b"\xa0" + sorted_set[1:], b"\xa0" + sent_set[1:])
            info["signature"] = _sign(spec, sent_set)
        else:
            info["signature"] = _sign(spec, sorted_set)
        info["signed_attrs"] = attributes
    else:
        info["signature"] = _sign(spec, spec.content)

    signer = cms.SignerInfo(info)
    certificates = [certificate] if spec.include_certificate else []
    certificates += [_asn1_certificate(c) for c in spec.extra_certificates]
    signed_data: dict[str, Any] = {
        "version": "v3" if version == "v3" else "v1",
        "digest_algorithms": [{"algorithm": spec.digest}],
        "encap_content_info": {
            "content_type": "data",
            "content": None if spec.detached else spec.content,
        },
        "signer_infos": [signer] * spec.signers,
    }
    if certificates:
        signed_data["certificates"] = certificates
    der: bytes = cms.ContentInfo(
        {"content_type": "signed_data", "content": cms.SignedData(signed_data)}
    ).dump()
    if swap is not None:
        assert der.count(swap[0]) == 1
        der = der.replace(*swap)
    return der


def pss_parameters(digest: str, salt_length: int, mgf_digest: str | None = None) -> Any:
    return algos.RSASSAPSSParams(
        {
            "hash_algorithm": {"algorithm": digest},
            "mask_gen_algorithm": {
                "algorithm": "mgf1",
                "parameters": {"algorithm": mgf_digest or digest},
            },
            "salt_length": salt_length,
        }
    )


# --- BER, as streaming encoders (BouncyCastle on Android) write it ---------------------------

# Which constructed nodes on the ContentInfo -> SignedData -> encapContentInfo spine get an
# indefinite length, named by the path of field names leading to them.
_SPINE: dict[tuple[str, ...], list[str]] = {
    ("ci",): ["type", "content"],
    ("ci", "content"): ["sd"],
    ("ci", "content", "sd"): ["version", "digests", "encap", "certs", "signers"],
    ("ci", "content", "sd", "encap"): ["type", "econtent"],
    ("ci", "content", "sd", "encap", "econtent"): ["octets"],
}
_ECONTENT_OCTETS = ("ci", "content", "sd", "encap", "econtent", "octets")


def _read_tlv(data: bytes, pos: int) -> tuple[int, bytes, int]:
    tag, first = data[pos], data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    return tag, data[pos : pos + length], pos + length


def _children(data: bytes) -> list[tuple[int, bytes]]:
    pos, found = 0, []
    while pos < len(data):
        tag, value, pos = _read_tlv(data, pos)
        found.append((tag, value))
    return found


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _ber(tag: int, value: bytes, path: tuple[str, ...]) -> bytes:
    if path == _ECONTENT_OCTETS:
        chunks = [value[i : i + 7] for i in range(0, len(value), 7)]
        return b"\x24\x80" + b"".join(b"\x04" + _length(len(c)) + c for c in chunks) + b"\x00\x00"
    labels = _SPINE.get(path)
    if labels is None or not tag & 0x20:
        return bytes([tag]) + _length(len(value)) + value
    inner = b"".join(
        _ber(child_tag, child, (*path, labels[i] if i < len(labels) else "other"))
        for i, (child_tag, child) in enumerate(_children(value))
    )
    return bytes([tag]) + b"\x80" + inner + b"\x00\x00"


def to_ber(der: bytes) -> bytes:
    """The same SignedData with indefinite lengths on its spine and the content in 7-byte chunks
    (SignerInfo and certificates stay DER, as the signature requires)."""
    tag, value, _ = _read_tlv(der, 0)
    return _ber(tag, value, ("ci",))
