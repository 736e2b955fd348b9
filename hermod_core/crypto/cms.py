"""CMS SignedData (RFC 5652) — the device's `pkcs7` answer to a sign/authenticate command.

docs/PROTOCOL.md §6.3: base64 DER SignedData over the decoded tbs data, signed by the profile key
the command's filter selected, carrying that key's certificate. Trust comes from the caller's
`expected_key` (the profile key), never from the certificate: the certificate only has to name
the signer and certify that same key; its chain and dates are not checked here.

An answer to a profile-less `@tmp` command has no profile key to expect: `expected_key=None`
verifies against the key of the signer certificate the CMS itself carries, which then proves
only that the holder of that certificate's key signed; who that is, is the caller's decision
(`crypto.chains`, a known profile key).

Verification is two-phase: `_decode` turns the untrusted ASN.1 into plain values (asn1crypto
parses lazily, so any malformation surfaces there as `CMS_INVALID`), then `verify_signed_data`
decides on those values with `cryptography`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

# asn1crypto ships no type information; the project config ignores that, a bare mypy does not.
from asn1crypto import cms as asn1_cms  # type: ignore[import-untyped, unused-ignore]
from asn1crypto import core as asn1_core  # type: ignore[import-untyped, unused-ignore]
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs7

from hermod_core.crypto.certs import parse_certificate_der
from hermod_core.crypto.digests import der_from_pem_or_b64
from hermod_core.crypto.errors import CmsError, CryptoError, ErrorCode
from hermod_core.crypto.jwk import (
    PrivateKey,
    PublicKey,
    public_keys_equal,
    require_supported_public_key,
)

# docs/PROTOCOL.md §11 caps request bodies at 1 MiB; a SignedData inside one cannot be larger.
MAX_CMS_BYTES: Final = 1024 * 1024
_PEM_LABELS: Final = ("PKCS7", "CMS")

_HASHES: Final[dict[str, type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512]]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
# SignerInfo.signatureAlgorithm values (asn1crypto names or dotted OIDs) -> (scheme, named hash).
# Plain rsaEncryption / id-ecPublicKey appear in the wild meaning "the digestAlgorithm's hash".
_SIGNATURE_ALGORITHMS: Final[dict[str, tuple[str, str | None]]] = {
    "rsassa_pkcs1v15": ("pkcs1v15", None),
    "sha256_rsa": ("pkcs1v15", "sha256"),
    "sha384_rsa": ("pkcs1v15", "sha384"),
    "sha512_rsa": ("pkcs1v15", "sha512"),
    "rsassa_pss": ("pss", None),
    "ecdsa": ("ecdsa", None),
    "1.2.840.10045.2.1": ("ecdsa", None),
    "sha256_ecdsa": ("ecdsa", "sha256"),
    "sha384_ecdsa": ("ecdsa", "sha384"),
    "sha512_ecdsa": ("ecdsa", "sha512"),
}


@dataclass(frozen=True)
class VerifiedCms:
    """A SignedData that verified: `content` is what `expected_key` signed.

    `signer_certificate` is the certificate that named the signer and certifies that key.
    `signing_time` is the signed signingTime attribute (RFC 5652 §11.3), None without one;
    `signature` the SignerInfo's signature value as sent (DER Ecdsa-Sig-Value for ECDSA);
    `signer_key` the key that verified; `other_certificates` the CMS's other certificates (a
    chain's intermediates, untrusted).
    """

    content: bytes
    content_type: str
    signer_certificate: x509.Certificate
    digest_algorithm: str
    has_signed_attributes: bool
    signing_time: datetime | None
    signature: bytes
    signer_key: PublicKey
    other_certificates: tuple[x509.Certificate, ...] = ()


@dataclass(frozen=True)
class _Decoded:
    """The plain values of the one SignerInfo, before any cryptographic decision."""

    attached_content: bytes | None
    content_type: str
    digest_algorithm: str
    scheme: str
    pss_salt_length: int
    signature: bytes
    signed_attributes: tuple[bytes, ...]  # candidate encodings the signature may cover
    attribute_content_type: str | None
    message_digest: bytes | None
    signing_time: datetime | None
    signer_certificates: tuple[bytes, ...]  # DER of every certificate matching the sid
    all_certificates: tuple[bytes, ...]  # DER of every certificate in the CMS


def _error(code: ErrorCode, message: str) -> CmsError:
    return CmsError(code, message)


def _single_value(attributes: asn1_cms.CMSAttributes, name: str) -> asn1_core.Asn1Value | None:
    matches = [attribute for attribute in attributes if attribute["type"].native == name]
    if not matches:
        return None
    # RFC 5652 §5.3, §11.3: contentType, messageDigest and signingTime are single-valued and
    # appear once.
    if len(matches) != 1 or len(matches[0]["values"]) != 1:
        raise _error(ErrorCode.CMS_INVALID, f"The {name} attribute must appear once.")
    value: asn1_core.Asn1Value = matches[0]["values"][0]
    return value


def _signed_attribute_encodings(attributes: asn1_cms.CMSAttributes) -> tuple[bytes, ...]:
    # The signature covers the attributes as a universal SET OF (RFC 5652 §5.4), not as the
    # [0] IMPLICIT field they are sent in. Signers sign their own encoding; DER requires it to be
    # sorted, and a few encoders do not sort — so accept the sent order or the DER order, both
    # encodings of the same attribute set.
    sent = attributes.dump()
    as_sent = b"\x31" + sent[1:]
    as_der = attributes.untag().dump(force=True)
    return (as_sent,) if as_der == as_sent else (as_sent, as_der)


def _pss_salt_length(algorithm: asn1_core.Asn1Value, digest: str) -> int:
    params = algorithm["parameters"]
    mgf = params["mask_gen_algorithm"]
    if (
        params["hash_algorithm"]["algorithm"].native != digest
        or mgf["algorithm"].native != "mgf1"
        or mgf["parameters"]["algorithm"].native != digest
        or params["trailer_field"].native != "trailer_field_bc"
    ):
        raise _error(ErrorCode.CMS_UNSUPPORTED, "RSA-PSS must use MGF1 with the digest's hash.")
    salt_length: int = params["salt_length"].native
    if not 0 <= salt_length <= 1024:
        raise _error(ErrorCode.CMS_INVALID, "The RSA-PSS salt length is not plausible.")
    return salt_length


def _matching_certificates(
    signed_data: asn1_cms.SignedData, sid: asn1_cms.SignerIdentifier
) -> tuple[bytes, ...]:
    certificates = [
        choice.chosen for choice in signed_data["certificates"] if choice.name == "certificate"
    ]
    if sid.name == "issuer_and_serial_number":
        issuer = sid.chosen["issuer"]
        serial = sid.chosen["serial_number"].native
        found = [c for c in certificates if c.serial_number == serial and c.issuer == issuer]
    else:
        # RFC 5652 names the certificate by its SKI extension; the RFC 5280 method-1 SHA-1 is
        # accepted for certificates without the extension.
        key_id = sid.chosen.native
        found = [c for c in certificates if key_id in (c.key_identifier, c.public_key.sha1)]
    if not found:
        raise _error(ErrorCode.CMS_SIGNER_NOT_FOUND, "No certificate in the CMS names the signer.")
    return tuple(certificate.dump() for certificate in found)


def _decode(der: bytes) -> _Decoded:
    info = asn1_cms.ContentInfo.load(der, strict=True)
    if info["content_type"].native != "signed_data":
        raise _error(ErrorCode.CMS_INVALID, "The CMS is not SignedData.")
    signed_data = info["content"]
    signer_infos = signed_data["signer_infos"]
    if len(signer_infos) != 1:
        raise _error(ErrorCode.CMS_UNSUPPORTED, "The CMS must have exactly one signer.")
    signer = signer_infos[0]

    encapsulated = signed_data["encap_content_info"]
    content_field = encapsulated["content"]
    attached = None if isinstance(content_field, asn1_core.Void) else bytes(content_field)
    content_type = encapsulated["content_type"].dotted

    digest = signer["digest_algorithm"]["algorithm"].native
    if digest not in _HASHES:
        raise _error(ErrorCode.CMS_UNSUPPORTED, "The digest must be SHA-256, SHA-384 or SHA-512.")
    algorithm = signer["signature_algorithm"]
    scheme, named_hash = _SIGNATURE_ALGORITHMS.get(algorithm["algorithm"].native, ("", None))
    if not scheme:
        raise _error(ErrorCode.CMS_UNSUPPORTED, "The signature algorithm is not supported.")
    if named_hash is not None and named_hash != digest:
        raise _error(ErrorCode.CMS_UNSUPPORTED, "The signature and digest algorithms differ.")
    salt_length = _pss_salt_length(algorithm, digest) if scheme == "pss" else 0

    attributes = signer["signed_attrs"]
    encodings: tuple[bytes, ...] = ()
    attribute_content_type: str | None = None
    message_digest: bytes | None = None
    signing_time: datetime | None = None
    if not isinstance(attributes, asn1_core.Void):
        encodings = _signed_attribute_encodings(attributes)
        content_type_value = _single_value(attributes, "content_type")
        digest_value = _single_value(attributes, "message_digest")
        if content_type_value is None or digest_value is None:
            raise _error(ErrorCode.CMS_INVALID, "Signed attributes lack contentType/messageDigest.")
        attribute_content_type = content_type_value.dotted
        message_digest = bytes(digest_value)
        time_value = _single_value(attributes, "signing_time")
        if time_value is not None:
            # UTCTime or GeneralizedTime; asn1crypto gives an aware datetime, or an
            # extended_datetime for year 0, which no device signs.
            native = time_value.native
            if not isinstance(native, datetime) or native.tzinfo is None:
                raise _error(ErrorCode.CMS_INVALID, "The signingTime attribute is not a time.")
            signing_time = native

    return _Decoded(
        attached_content=attached,
        content_type=content_type,
        digest_algorithm=digest,
        scheme=scheme,
        pss_salt_length=salt_length,
        signature=bytes(signer["signature"]),
        signed_attributes=encodings,
        attribute_content_type=attribute_content_type,
        message_digest=message_digest,
        signing_time=signing_time,
        signer_certificates=_matching_certificates(signed_data, signer["sid"]),
        all_certificates=tuple(
            choice.chosen.dump()
            for choice in signed_data["certificates"]
            if choice.name == "certificate"
        ),
    )


def _signer_certificate(
    decoded: _Decoded, expected_key: PublicKey | None
) -> tuple[x509.Certificate, PublicKey]:
    """The certificate naming the signer that certifies `expected_key` (or, without one, the
    first readable one) and the key to verify with."""
    for der in decoded.signer_certificates:
        try:
            certificate = parse_certificate_der(der)
        except CryptoError:
            continue  # a certificate we cannot read certifies nothing
        if expected_key is None:
            return certificate.certificate, certificate.public_key
        if public_keys_equal(certificate.public_key, expected_key):
            return certificate.certificate, expected_key
    if expected_key is None:
        raise _error(
            ErrorCode.CMS_SIGNER_NOT_FOUND, "The CMS carries no readable signer certificate."
        )
    raise _error(ErrorCode.CMS_WRONG_KEY, "The CMS is not signed with the expected key.")


def _others(decoded: _Decoded, signer: x509.Certificate) -> tuple[x509.Certificate, ...]:
    signer_der = signer.public_bytes(serialization.Encoding.DER)
    others = []
    for der in decoded.all_certificates:
        if der == signer_der:
            continue
        try:
            others.append(parse_certificate_der(der).certificate)
        except CryptoError:
            continue  # an unreadable extra certificate is no link of any chain
    return tuple(others)


def _signature_verifies(decoded: _Decoded, key: PublicKey, candidates: Sequence[bytes]) -> bool:
    hash_type = _HASHES[decoded.digest_algorithm]
    for data in candidates:
        try:
            if isinstance(key, rsa.RSAPublicKey):
                if decoded.scheme == "ecdsa":
                    return False
                pad: padding.AsymmetricPadding = (
                    padding.PKCS1v15()
                    if decoded.scheme == "pkcs1v15"
                    else padding.PSS(padding.MGF1(hash_type()), decoded.pss_salt_length)
                )
                key.verify(decoded.signature, data, pad, hash_type())
            else:
                if decoded.scheme != "ecdsa":
                    return False
                # CMS carries ECDSA signatures as DER Ecdsa-Sig-Value, as cryptography expects.
                key.verify(decoded.signature, data, ec.ECDSA(hash_type()))
        except (InvalidSignature, ValueError):
            continue
        return True
    return False


def verify_signed_data(
    data: str | bytes, *, expected_key: PublicKey | None, content: bytes | None
) -> VerifiedCms:
    """Return the verified content if `data` is a SignedData by `expected_key`; else `CmsError`.

    `expected_key=None`: by the key of the signer certificate the CMS carries (see the module
    docstring for what that proves).

    `data` is base64 DER (whitespace tolerated), PEM, or DER bytes. `content` is the content the
    caller expects: required when the signature is detached, and compared to the attached
    content when both exist. Codes: `CMS_INVALID`, `CMS_UNSUPPORTED`, `CMS_SIGNER_NOT_FOUND`,
    `CMS_WRONG_KEY`, `CMS_CONTENT_MISMATCH` (attached content or messageDigest differs),
    `CMS_BAD_SIGNATURE`.
    """
    wanted = None if expected_key is None else require_supported_public_key(expected_key)
    if isinstance(data, bytes):
        der = data
    else:
        try:
            der = der_from_pem_or_b64(data, _PEM_LABELS, max_chars=2 * MAX_CMS_BYTES)
        except CryptoError as exc:
            raise _error(ErrorCode.CMS_INVALID, "The CMS is not base64 DER.") from exc
    if len(der) > MAX_CMS_BYTES:
        raise _error(ErrorCode.CMS_INVALID, f"A CMS may be at most {MAX_CMS_BYTES} bytes.")
    try:
        decoded = _decode(der)
    except CryptoError:
        raise
    except Exception as exc:
        # asn1crypto decodes lazily and reports malformed input with whatever builtin exception
        # the failing accessor hits (ValueError, TypeError, KeyError, IndexError, RecursionError…).
        raise _error(ErrorCode.CMS_INVALID, "The value is not a valid CMS SignedData.") from exc

    if decoded.attached_content is None:
        if content is None:
            raise _error(ErrorCode.CMS_INVALID, "The signature is detached and no content given.")
        signed_content = content
    else:
        if content is not None and content != decoded.attached_content:
            raise _error(ErrorCode.CMS_CONTENT_MISMATCH, "The signed content is not the expected.")
        signed_content = decoded.attached_content

    certificate, key = _signer_certificate(decoded, wanted)

    if decoded.signed_attributes:
        if decoded.attribute_content_type != decoded.content_type:
            raise _error(ErrorCode.CMS_INVALID, "The contentType attribute does not match.")
        digest = hashlib.new(decoded.digest_algorithm, signed_content).digest()
        if decoded.message_digest != digest:
            raise _error(ErrorCode.CMS_CONTENT_MISMATCH, "The messageDigest does not match.")
        candidates: Sequence[bytes] = decoded.signed_attributes
    else:
        candidates = (signed_content,)
    if not _signature_verifies(decoded, key, candidates):
        raise _error(ErrorCode.CMS_BAD_SIGNATURE, "The CMS signature does not verify.")

    return VerifiedCms(
        content=signed_content,
        content_type=decoded.content_type,
        signer_certificate=certificate,
        digest_algorithm=decoded.digest_algorithm,
        has_signed_attributes=bool(decoded.signed_attributes),
        signing_time=decoded.signing_time,
        signature=decoded.signature,
        signer_key=key,
        other_certificates=_others(decoded, certificate),
    )


def _with_signing_time(
    der: bytes,
    private_key: PrivateKey,
    algorithm: hashes.SHA256 | hashes.SHA384 | hashes.SHA512,
    rsa_padding: padding.AsymmetricPadding | None,
    signing_time: datetime,
) -> bytes:
    """`der` with its signingTime attribute set to `signing_time` and its SignerInfo re-signed
    (cryptography's builder always signs the current time)."""
    info = asn1_cms.ContentInfo.load(der)
    signer = info["content"]["signer_infos"][0]
    # RFC 5652 §11.3: UTCTime for 1950–2049, GeneralizedTime otherwise.
    time_name = "utc_time" if 1950 <= signing_time.year <= 2049 else "generalized_time"
    attributes = asn1_cms.CMSAttributes(
        [
            {
                "type": "signing_time",
                "values": [asn1_cms.Time(name=time_name, value=signing_time)],
            }
            if attribute["type"].native == "signing_time"
            else attribute
            for attribute in signer["signed_attrs"]
        ]
    )
    signed = b"\x31" + attributes.dump()[1:]  # as a SET OF, RFC 5652 §5.4
    if isinstance(private_key, rsa.RSAPrivateKey):
        signature = private_key.sign(signed, rsa_padding or padding.PKCS1v15(), algorithm)
    else:
        signature = private_key.sign(signed, ec.ECDSA(algorithm))
    signer["signed_attrs"] = attributes
    signer["signature"] = signature
    result: bytes = info.dump(force=True)
    return result


def sign_data(
    content: bytes,
    private_key: PrivateKey,
    certificate: x509.Certificate,
    *,
    detached: bool = True,
    hash_alg: hashes.SHA256 | hashes.SHA384 | hashes.SHA512 | None = None,
    rsa_pss: bool = False,
    signed_attributes: bool = True,
    signing_time: datetime | None = None,
) -> bytes:
    """DER SignedData of `content` by `private_key` (reference device).

    With signed attributes (the default, and what the server requires, docs/PROTOCOL.md §6.3):
    contentType, signingTime (now, or `signing_time`), messageDigest and SMIMECapabilities.
    Built with cryptography's PKCS7SignatureBuilder, in binary mode so the content is signed
    byte for byte (no MIME line-ending canonicalisation). `signed_attributes=False` signs the
    content itself (a device fault the server refuses).
    """
    algorithm = hash_alg or hashes.SHA256()
    rsa_padding = (
        padding.PSS(padding.MGF1(algorithm), padding.PSS.DIGEST_LENGTH) if rsa_pss else None
    )
    options = [pkcs7.PKCS7Options.Binary]
    if detached:
        options.append(pkcs7.PKCS7Options.DetachedSignature)
    if not signed_attributes:
        options.append(pkcs7.PKCS7Options.NoAttributes)
    der = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(content)
        .add_signer(certificate, private_key, algorithm, rsa_padding=rsa_padding)
        .sign(serialization.Encoding.DER, options)
    )
    if signed_attributes and signing_time is not None:
        return _with_signing_time(der, private_key, algorithm, rsa_padding, signing_time)
    return der


def signed_data_certificates(data: str) -> tuple[bytes, ...]:
    """The DER certificates a base64 CMS SignedData carries, for showing them (not verified);
    ``CmsError`` (``CMS_INVALID``) for anything else."""
    try:
        der = der_from_pem_or_b64(data, _PEM_LABELS, max_chars=2 * MAX_CMS_BYTES)
    except CryptoError as exc:
        raise _error(ErrorCode.CMS_INVALID, "The CMS is not base64 DER.") from exc
    try:
        info = asn1_cms.ContentInfo.load(der, strict=True)
        if info["content_type"].native != "signed_data":
            raise _error(ErrorCode.CMS_INVALID, "The CMS is not SignedData.")
        return tuple(
            choice.chosen.dump()
            for choice in info["content"]["certificates"]
            if choice.name == "certificate"
        )
    except CryptoError:
        raise
    except Exception as exc:
        # As in verify_signed_data: asn1crypto reports malformed input with any builtin error.
        raise _error(ErrorCode.CMS_INVALID, "The value is not a valid CMS SignedData.") from exc
