"""The slice of CMS (RFC 5652) SCEP needs: SignedData and EnvelopedData, built DER, read BER.

Reading is deliberately tolerant of BER because real CAs emit it: micromdm's scepserver 2.1 sends
its encryptedContent as a *constructed* OCTET STRING (definite length), streaming CMS encoders use
indefinite lengths and chunked strings; strict parsers (asn1crypto's CMS classes included) reject
both. Everything is loaded with `strict=False`, the content fields are declared as Any, and every
OCTET STRING is read through `octets()`, which concatenates constructed chunks. Security checks
are not relaxed: signatures are verified over the signed attributes as received, and only against
certificates the caller trusts.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from asn1crypto import algos, cms, core, parser  # type: ignore[import-untyped, unused-ignore]
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from hermod_core.scep import ciphers
from hermod_core.scep.ciphers import ContentCipher
from hermod_core.scep.errors import ScepConfigError, ScepError, ScepProtocolError

# Digests accepted on CertReps; MD5 is refused even though old SCEP allowed it.
_HASHES: Mapping[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
_MAX_NESTING = 32


@contextlib.contextmanager
def malformed(what: str) -> Iterator[None]:
    """Turn any parser failure into `ScepProtocolError`, so bad bytes never escape as a crash.

    asn1crypto parses lazily and reports hostile input as ValueError, TypeError, KeyError,
    IndexError or AttributeError depending on where it trips; all of them mean "malformed" here.
    """
    try:
        yield
    except ScepError:
        raise
    except (
        ValueError,
        TypeError,
        KeyError,
        IndexError,
        AttributeError,
        OverflowError,
        RecursionError,
        UnicodeError,
        # cryptography reports an unknown certificate version with its own exception class.
        x509.InvalidVersion,
    ) as exc:
        raise ScepProtocolError("SCEP_MALFORMED_REPLY", f"the {what} is malformed") from exc


# Reading schemas. asn1crypto's own CMS classes accept BER only for indefinite lengths: a
# definite-length constructed OCTET STRING (micromdm's encryptedContent is `A0 82 .. 04 82 ..`)
# fails with "method should have been primitive". Declaring the content fields as Any skips that
# check; `octets()` then reads them whatever their encoding.


class _LenientEncapsulatedContentInfo(core.Sequence):  # type: ignore[misc]
    _fields = [
        ("content_type", cms.ContentType),
        ("content", core.Any, {"explicit": 0, "optional": True}),
    ]


class _LenientSignedData(core.Sequence):  # type: ignore[misc]
    _fields = [
        ("version", cms.CMSVersion),
        ("digest_algorithms", cms.DigestAlgorithms),
        ("encap_content_info", _LenientEncapsulatedContentInfo),
        ("certificates", cms.CertificateSet, {"implicit": 0, "optional": True}),
        ("crls", cms.RevocationInfoChoices, {"implicit": 1, "optional": True}),
        ("signer_infos", cms.SignerInfos),
    ]


class _LenientEncryptedContentInfo(core.Sequence):  # type: ignore[misc]
    _fields = [
        ("content_type", cms.ContentType),
        ("content_encryption_algorithm", algos.EncryptionAlgorithm),
        ("encrypted_content", core.Any, {"implicit": 0, "optional": True}),
    ]


class _LenientEnvelopedData(core.Sequence):  # type: ignore[misc]
    _fields = [
        ("version", cms.CMSVersion),
        ("originator_info", cms.OriginatorInfo, {"implicit": 0, "optional": True}),
        ("recipient_infos", cms.RecipientInfos),
        ("encrypted_content_info", _LenientEncryptedContentInfo),
        ("unprotected_attrs", cms.CMSAttributes, {"implicit": 1, "optional": True}),
    ]


class _SignedContentInfo(core.Sequence):  # type: ignore[misc]
    _fields = [("content_type", cms.ContentType), ("content", _LenientSignedData, {"explicit": 0})]


class _EnvelopedContentInfo(core.Sequence):  # type: ignore[misc]
    _fields = [
        ("content_type", cms.ContentType),
        ("content", _LenientEnvelopedData, {"explicit": 0}),
    ]


def _load(spec: type[core.Sequence], expected_type: str, data: bytes, what: str) -> core.Asn1Value:
    """Parse a ContentInfo of `expected_type` (BER accepted) and return its content."""
    with malformed(what):
        info = spec.load(data, strict=False)
        if info["content_type"].native != expected_type:
            raise ScepProtocolError("SCEP_MALFORMED_REPLY", f"the {what} is not {expected_type}")
        return info["content"]


def _present(value: core.Asn1Value) -> bool:
    return not isinstance(value, core.Void)


def octets(value: core.Asn1Value) -> bytes:
    """The value bytes of an OCTET STRING however it was encoded.

    A BER constructed OCTET STRING carries its value as nested primitive chunks; the value is
    their concatenation (X.690 §8.7.3). The outer tag is not checked (it may be an implicit or
    explicit context tag); the chunks inside a constructed encoding must be OCTET STRINGs.
    """
    with malformed("OCTET STRING"):
        _, method, _, _, contents, _ = parser.parse(_received_encoding(value))
        return _concat_chunks(contents, 0) if method == 1 else contents


def _received_encoding(value: core.Asn1Value) -> bytes:
    # asn1crypto keeps a parsed value's header and trailer as received; `Any.dump()` would try
    # to re-parse the value (and fail on the very encodings we need to read).
    header = value._header
    if header is None:
        return bytes(value.dump())
    return bytes(header) + bytes(value.contents or b"") + bytes(value._trailer or b"")


def _concat_chunks(data: bytes, depth: int) -> bytes:
    if depth > _MAX_NESTING:
        raise ScepProtocolError("SCEP_MALFORMED_REPLY", "an OCTET STRING is nested too deeply")
    out = bytearray()
    rest = data
    while rest:
        class_, method, tag, header, contents, trailer = parser.parse(rest)
        if class_ != 0 or tag != 4:
            raise ScepProtocolError("SCEP_MALFORMED_REPLY", "a constructed OCTET STRING is bad")
        out += _concat_chunks(contents, depth + 1) if method == 1 else contents
        rest = rest[len(header) + len(contents) + len(trailer) :]
    return bytes(out)


def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    encoded = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(encoded)]) + encoded


def _asn1_cert(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))


def _issuer_and_serial(cert: x509.Certificate) -> cms.IssuerAndSerialNumber:
    tbs = _asn1_cert(cert)["tbs_certificate"]
    return cms.IssuerAndSerialNumber(
        {"issuer": tbs["issuer"], "serial_number": tbs["serial_number"]}
    )


def _identifies(identifier: core.Choice, cert: x509.Certificate) -> bool:
    """Whether a SignerIdentifier/RecipientIdentifier names `cert`."""
    if identifier.name == "issuer_and_serial_number":
        ias = identifier.chosen
        # asn1crypto compares Names after RFC 5280 §7.1 normalisation, so a CA that re-encodes
        # the issuer with other string types still matches.
        return bool(
            ias["serial_number"].native == cert.serial_number
            and ias["issuer"] == _asn1_cert(cert)["tbs_certificate"]["issuer"]
        )
    if identifier.name == "subject_key_identifier":
        try:
            ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        except x509.ExtensionNotFound:
            return False
        return bool(octets(identifier.chosen) == ski.value.digest)
    return False


# --- SignedData ------------------------------------------------------------------------------


def build_signed_data(
    *,
    content: bytes | None,
    signer_key: rsa.RSAPrivateKey,
    signer_cert: x509.Certificate,
    attributes: Sequence[tuple[str, core.Asn1Value]],
    digest: str = "sha256",
    certificates: Sequence[x509.Certificate] = (),
    signing_time: datetime | None = None,
) -> bytes:
    """A DER ContentInfo(SignedData) over `content` (id-data), RSA PKCS#1 v1.5 signed.

    The signed attributes are contentType, messageDigest, signingTime and `attributes` (dotted OID,
    single value). `content=None` omits eContent (SCEP PENDING/FAILURE replies); the digest is then
    over the empty string, as SCEP implementations do.
    """
    hash_cls = _HASHES[digest]
    body = content if content is not None else b""
    message_digest = hashes.Hash(hash_cls())
    message_digest.update(body)
    attrs = [
        cms.CMSAttribute({"type": "content_type", "values": ["data"]}),
        cms.CMSAttribute({"type": "message_digest", "values": [message_digest.finalize()]}),
        cms.CMSAttribute(
            {
                "type": "signing_time",
                "values": [cms.Time({"utc_time": signing_time or datetime.now(UTC)})],
            }
        ),
    ]
    attrs += [cms.CMSAttribute({"type": oid, "values": [value]}) for oid, value in attributes]
    signed_attrs = cms.CMSAttributes(attrs)
    # The signature covers the attributes DER-encoded as a SET OF (RFC 5652 §5.4), not with the
    # [0] IMPLICIT tag they carry inside SignerInfo.
    signature = signer_key.sign(signed_attrs.dump(), padding.PKCS1v15(), hash_cls())
    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                {"issuer_and_serial_number": _issuer_and_serial(signer_cert)}
            ),
            "digest_algorithm": {"algorithm": digest},
            "signed_attrs": signed_attrs,
            "signature_algorithm": {"algorithm": "rsassa_pkcs1v15"},
            "signature": signature,
        }
    )
    encap: dict[str, object] = {"content_type": "data"}
    if content is not None:
        encap["content"] = content
    signed_data = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [{"algorithm": digest}],
            "encap_content_info": encap,
            "certificates": [_asn1_cert(c) for c in certificates],
            "signer_infos": [signer_info],
        }
    )
    return bytes(cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump())


def signed_data_certificates(data: bytes, what: str) -> tuple[x509.Certificate, ...]:
    """The X.509 certificates carried in a (possibly degenerate, possibly BER) SignedData."""
    signed_data = _load(_SignedContentInfo, "signed_data", data, what)
    with malformed(what):
        found: list[x509.Certificate] = []
        certs = signed_data["certificates"]
        for choice in certs if _present(certs) else ():
            if choice.name == "certificate":
                found.append(x509.load_der_x509_certificate(choice.chosen.dump()))
        return tuple(found)


@dataclass(frozen=True)
class SignedMessage:
    """A SignedData whose signature verified against `signer`, one of the trusted certificates.

    `attributes` maps each signed attribute's dotted OID to the DER of its single value.
    `content` is the eContent value (b"" when absent).
    """

    content: bytes
    has_content: bool
    attributes: Mapping[str, bytes]
    signer: x509.Certificate


def open_signed_data(data: bytes, trusted: Sequence[x509.Certificate], what: str) -> SignedMessage:
    """Verify a SignedData's single signer against `trusted` and return its content.

    Guarantees: the signer is one of `trusted` (certificates embedded in the message are never
    trusted on their own), the signature verifies over the signed attributes, and messageDigest
    equals the digest of the content.
    """
    signed_data = _load(_SignedContentInfo, "signed_data", data, what)
    with malformed(what):
        signer_infos = signed_data["signer_infos"]
        if len(signer_infos) != 1:
            raise ScepProtocolError("SCEP_MALFORMED_REPLY", f"the {what} needs exactly one signer")
        signer_info = signer_infos[0]
        signer = next((c for c in trusted if _identifies(signer_info["sid"], c)), None)
        if signer is None:
            raise ScepProtocolError(
                "SCEP_UNKNOWN_SIGNER", f"the {what} is not signed by a certificate of this CA"
            )
        signed_attrs = signer_info["signed_attrs"]
        if not _present(signed_attrs) or len(signed_attrs) == 0:
            raise ScepProtocolError("SCEP_MALFORMED_REPLY", f"the {what} has no signed attributes")
        attributes = _attribute_map(signed_attrs, what)
        digest_name = signer_info["digest_algorithm"]["algorithm"].native
        hash_cls = _HASHES.get(digest_name)
        if hash_cls is None:
            raise ScepProtocolError(
                "SCEP_UNSUPPORTED_ALGORITHM", f"the {what} uses digest {digest_name}"
            )
        encap = signed_data["encap_content_info"]
        has_content = _present(encap["content"])
        content = octets(encap["content"]) if has_content else b""
        digest = hashes.Hash(hash_cls())
        digest.update(content)
        expected_digest = attributes.get(_OID_MESSAGE_DIGEST)
        if (
            expected_digest is None
            or octets(core.OctetString.load(expected_digest, strict=False)) != digest.finalize()
        ):
            raise ScepProtocolError(
                "SCEP_BAD_SIGNATURE", f"the {what}'s messageDigest does not match its content"
            )
        # Re-tag the attributes as the SET OF that was signed, keeping the received bytes.
        raw_attrs = bytes(signed_attrs.contents)
        signed_bytes = b"\x31" + _der_length(len(raw_attrs)) + raw_attrs
        _verify_signature(
            signer,
            signer_info["signature_algorithm"],
            hash_cls(),
            octets(signer_info["signature"]),
            signed_bytes,
            what,
        )
        return SignedMessage(
            content=content, has_content=has_content, attributes=attributes, signer=signer
        )


_OID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"


def _attribute_map(signed_attrs: cms.CMSAttributes, what: str) -> dict[str, bytes]:
    attributes: dict[str, bytes] = {}
    for attribute in signed_attrs:
        oid = attribute["type"].dotted
        values = attribute["values"]
        # A repeated or multi-valued attribute is ambiguous; an attacker could hope we read a
        # different copy than the signer meant. RFC 5652 §5.3 forbids both for these types.
        if oid in attributes or len(values) != 1:
            raise ScepProtocolError(
                "SCEP_MALFORMED_REPLY", f"the {what} repeats a signed attribute"
            )
        attributes[oid] = bytes(values[0].dump())
    return attributes


def _verify_signature(
    signer: x509.Certificate,
    algorithm: algos.SignedDigestAlgorithm,
    hash_algorithm: hashes.HashAlgorithm,
    signature: bytes,
    signed_bytes: bytes,
    what: str,
) -> None:
    public_key = signer.public_key()
    name = algorithm["algorithm"].native
    try:
        if isinstance(public_key, rsa.RSAPublicKey) and (
            name == "rsassa_pkcs1v15" or name.endswith("_rsa")
        ):
            public_key.verify(signature, signed_bytes, padding.PKCS1v15(), hash_algorithm)
        elif isinstance(public_key, ec.EllipticCurvePublicKey) and "ecdsa" in name:
            public_key.verify(signature, signed_bytes, ec.ECDSA(hash_algorithm))
        else:
            raise ScepProtocolError(
                "SCEP_UNSUPPORTED_ALGORITHM", f"the {what} uses signature algorithm {name}"
            )
    except InvalidSignature as exc:
        raise ScepProtocolError("SCEP_BAD_SIGNATURE", f"the {what}'s signature is invalid") from exc


# --- EnvelopedData ---------------------------------------------------------------------------


def build_enveloped_data(
    plaintext: bytes, recipient: x509.Certificate, cipher: ContentCipher
) -> bytes:
    """A DER ContentInfo(EnvelopedData) of `plaintext` for `recipient` (RSA PKCS#1 v1.5)."""
    public_key = recipient.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        # RFC 8894 §3.5.2: SCEP key transport is RSA; a CA with another key type cannot be used.
        raise ScepConfigError(
            "SCEP_RECIPIENT_NOT_RSA", "the CA's encryption certificate does not hold an RSA key"
        )
    key = ciphers.new_key(cipher)
    iv = ciphers.new_iv(cipher)
    recipient_info = cms.RecipientInfo(
        {
            "ktri": cms.KeyTransRecipientInfo(
                {
                    "version": "v0",
                    "rid": cms.RecipientIdentifier(
                        {"issuer_and_serial_number": _issuer_and_serial(recipient)}
                    ),
                    "key_encryption_algorithm": {"algorithm": "rsaes_pkcs1v15"},
                    "encrypted_key": public_key.encrypt(key, padding.PKCS1v15()),
                }
            )
        }
    )
    enveloped = cms.EnvelopedData(
        {
            "version": "v0",
            "recipient_infos": [recipient_info],
            "encrypted_content_info": {
                "content_type": "data",
                "content_encryption_algorithm": {
                    "algorithm": cipher.value,
                    "parameters": core.OctetString(iv),
                },
                "encrypted_content": ciphers.encrypt(cipher, key, iv, plaintext),
            },
        }
    )
    return bytes(cms.ContentInfo({"content_type": "enveloped_data", "content": enveloped}).dump())


def open_enveloped_data(
    data: bytes, key: rsa.RSAPrivateKey, cert: x509.Certificate, what: str
) -> bytes:
    """Decrypt an EnvelopedData addressed to `cert`; BER-encoded envelopes are accepted."""
    enveloped = _load(_EnvelopedContentInfo, "enveloped_data", data, what)
    with malformed(what):
        ktri = next(
            (
                ri.chosen
                for ri in enveloped["recipient_infos"]
                if ri.name == "ktri" and _identifies(ri.chosen["rid"], cert)
            ),
            None,
        )
        if ktri is None:
            raise ScepProtocolError(
                "SCEP_NOT_A_RECIPIENT", f"the {what} is not encrypted to our RA certificate"
            )
        if ktri["key_encryption_algorithm"]["algorithm"].native != "rsaes_pkcs1v15":
            raise ScepProtocolError(
                "SCEP_UNSUPPORTED_ALGORITHM", f"the {what} uses an unsupported key transport"
            )
        eci = enveloped["encrypted_content_info"]
        algorithm = eci["content_encryption_algorithm"]
        cipher = ContentCipher.from_algorithm_name(str(algorithm["algorithm"].native))
        iv = octets(algorithm["parameters"])
        if not _present(eci["encrypted_content"]):
            raise ScepProtocolError("SCEP_MALFORMED_REPLY", f"the {what} has no content")
        ciphertext = octets(eci["encrypted_content"])
        try:
            # With implicit rejection (OpenSSL 3.2+) a wrong key yields random bytes rather than
            # an error; the length check and the padding check below then catch it.
            content_key = key.decrypt(octets(ktri["encrypted_key"]), padding.PKCS1v15())
        except ValueError as exc:
            raise ScepProtocolError(
                "SCEP_BAD_ENVELOPE", f"the {what}'s content key does not decrypt"
            ) from exc
        return ciphers.decrypt(cipher, content_key, iv, ciphertext)
