"""PKCS#10 certificate requests: the provisioning template and the device's re-keyed request.

The server (or console) sends a "dummy" CSR — right subject, throw-away key — as `certreq`
(docs/PROTOCOL.md §5.1); the device replaces the key, re-signs it with the new key and sends it
back, and the server checks signature, key and subject (§6.2.5). This module does all three roles:
`make_dummy_csr` (server/console), `rekey_csr` (device/emulator), `parse_csr_b64` +
`verify_csr_signature` + `subjects_equal` (server).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import AttributeOID, NameOID

from hermod_core.crypto.digests import der_from_pem_or_b64
from hermod_core.crypto.errors import CryptoError, CsrError, ErrorCode
from hermod_core.crypto.jwk import PrivateKey, PublicKey, require_supported_public_key
from hermod_core.crypto.names import SubjectKey, name_key, name_to_string

# An RSA-8192 CSR with a few extensions is under 3 KiB of base64; 64 KiB bounds the parse work.
MAX_CSR_CHARS: Final = 64 * 1024
_PEM_LABELS: Final = ("CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST")

# What malformed DER can make cryptography raise while it decodes lazily-parsed parts.
_DECODE_ERRORS: Final = (
    ValueError,
    TypeError,
    UnsupportedAlgorithm,
    x509.InvalidVersion,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
)

# PKCS#9 extensionRequest; cryptography writes it itself from `add_extension`.
_EXTENSION_REQUEST: Final = x509.ObjectIdentifier("1.2.840.113549.1.9.14")

# Subject attribute names accepted by `make_dummy_csr` (OpenSSL spellings).
SUBJECT_ATTRIBUTES: Final = {
    "C": NameOID.COUNTRY_NAME,
    "ST": NameOID.STATE_OR_PROVINCE_NAME,
    "L": NameOID.LOCALITY_NAME,
    "O": NameOID.ORGANIZATION_NAME,
    "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "CN": NameOID.COMMON_NAME,
    "emailAddress": NameOID.EMAIL_ADDRESS,
    "serialNumber": NameOID.SERIAL_NUMBER,
    "SN": NameOID.SURNAME,
    "GN": NameOID.GIVEN_NAME,
    "title": NameOID.TITLE,
    "DC": NameOID.DOMAIN_COMPONENT,
    "UID": NameOID.USER_ID,
}


@dataclass(frozen=True)
class ParsedCsr:
    """A CSR whose structure, subject and (supported RSA/EC) public key decoded.

    The signature is checked but not required: `signature_valid` says whether it verifies
    (a template's may not matter; a device's must — use `verify_csr_signature`).
    """

    der: bytes
    request: x509.CertificateSigningRequest
    subject: x509.Name
    subject_key: SubjectKey
    subject_der: bytes
    subject_string: str
    public_key: PublicKey
    signature_valid: bool


def _invalid(message: str) -> CsrError:
    return CsrError(ErrorCode.CSR_INVALID, message)


def parse_csr_der(der: bytes) -> ParsedCsr:
    """Decode a DER PKCS#10 request; raises `CsrError` / `UnsupportedKeyError` only."""
    if not isinstance(der, bytes):
        raise _invalid("A CSR must be DER bytes.")
    try:
        request = x509.load_der_x509_csr(der)
        subject = request.subject
        subject_key = name_key(subject)
        subject_der = subject.public_bytes()
        subject_string = name_to_string(subject)
        raw_key = request.public_key()
    except _DECODE_ERRORS as exc:
        raise _invalid("The value is not a valid PKCS#10 certificate request.") from exc
    public_key = require_supported_public_key(raw_key)
    try:
        signature_valid = request.is_signature_valid
    except _DECODE_ERRORS:
        # An algorithm cryptography cannot check is, for us, a signature that does not verify.
        signature_valid = False
    return ParsedCsr(
        der=der,
        request=request,
        subject=subject,
        subject_key=subject_key,
        subject_der=subject_der,
        subject_string=subject_string,
        public_key=public_key,
        signature_valid=signature_valid,
    )


def parse_csr_b64(text: str) -> ParsedCsr:
    """Decode base64 DER (the wire form; whitespace tolerated) or PEM; `CryptoError` only."""
    try:
        der = der_from_pem_or_b64(text, _PEM_LABELS, max_chars=MAX_CSR_CHARS)
    except CryptoError as exc:
        raise _invalid("The CSR is not base64 DER or PEM.") from exc
    return parse_csr_der(der)


def verify_csr_signature(parsed: ParsedCsr) -> None:
    """Return only if the request is signed by its own key (proof of possession)."""
    if not parsed.signature_valid:
        raise CsrError(ErrorCode.CSR_BAD_SIGNATURE, "The CSR signature does not verify.")


def subjects_equal(a: ParsedCsr | x509.Name, b: ParsedCsr | x509.Name) -> bool:
    """Whether two subjects are equal in the sense of `hermod_core.crypto.names`."""
    key_a = a.subject_key if isinstance(a, ParsedCsr) else name_key(a)
    key_b = b.subject_key if isinstance(b, ParsedCsr) else name_key(b)
    return key_a == key_b


def csr_challenge_password(parsed: ParsedCsr) -> str | None:
    """The request's challengePassword attribute (RFC 2985 §5.4.1) as text, or None."""
    try:
        value = parsed.request.attributes.get_attribute_for_oid(
            AttributeOID.CHALLENGE_PASSWORD
        ).value
    except x509.AttributeNotFound:
        return None
    except _DECODE_ERRORS:
        return None
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


def default_hash(key: PrivateKey | PublicKey) -> hashes.SHA256 | hashes.SHA384 | hashes.SHA512:
    """SHA-256, except SHA-384 for P-384 and SHA-512 for P-521 (hash strength ≈ curve strength)."""
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        if key.curve.key_size == 384:
            return hashes.SHA384()
        if key.curve.key_size == 521:
            return hashes.SHA512()
    return hashes.SHA256()


def _sign(
    builder: x509.CertificateSigningRequestBuilder,
    private_key: PrivateKey,
    hash_alg: hashes.HashAlgorithm | None,
) -> bytes:
    algorithm = hash_alg or default_hash(private_key)
    if not isinstance(algorithm, hashes.SHA256 | hashes.SHA384 | hashes.SHA512):
        raise ValueError("CSRs are signed with SHA-256, SHA-384 or SHA-512")
    return builder.sign(private_key, algorithm).public_bytes(serialization.Encoding.DER)


def _carried_type(attribute: x509.Attribute) -> _ASN1Type | None:
    # `_type` is the attribute value's ASN.1 tag; cryptography has no public accessor for it,
    # and re-encoding with another string type would change what the CA sees.
    try:
        return _ASN1Type(attribute._type)
    except ValueError:
        return None


def rekey_csr(
    template: bytes | str,
    private_key: PrivateKey,
    hash_alg: hashes.HashAlgorithm | None = None,
) -> bytes:
    """What the device does: the template's request, re-keyed and signed by `private_key` (DER).

    Carried over: the subject (exactly), every extension, and every other attribute
    cryptography can re-encode (challengePassword, unstructuredName …). An attribute whose value
    is not a plain string (none appear in real templates) is dropped, since cryptography cannot
    write it. A malformed template raises `CsrError` (`CSR_INVALID`).
    """
    parsed = parse_csr_der(template) if isinstance(template, bytes) else parse_csr_b64(template)
    try:
        builder = x509.CertificateSigningRequestBuilder().subject_name(parsed.subject)
        for extension in parsed.request.extensions:
            builder = builder.add_extension(extension.value, extension.critical)
        for attribute in parsed.request.attributes:
            # extensionRequest is rebuilt by cryptography from the extensions added above.
            if attribute.oid == _EXTENSION_REQUEST:
                continue
            asn1_type = _carried_type(attribute)
            if asn1_type is not None:
                builder = builder.add_attribute(attribute.oid, attribute.value, _tag=asn1_type)
    except _DECODE_ERRORS as exc:
        raise _invalid("The template CSR's extensions or attributes cannot be decoded.") from exc
    return _sign(builder, private_key, hash_alg)


def _subject_name(subject: Mapping[str, str] | x509.Name) -> x509.Name:
    if isinstance(subject, x509.Name):
        return subject
    attributes = []
    for name, value in subject.items():
        oid = SUBJECT_ATTRIBUTES.get(name)
        if oid is None:
            raise _invalid(f"Unknown subject attribute {name!r}.")
        try:
            attributes.append(x509.NameAttribute(oid, value))
        except (ValueError, TypeError) as exc:
            raise _invalid(f"Subject attribute {name!r} has an invalid value.") from exc
    if not attributes:
        raise _invalid("The subject must have at least one attribute.")
    return x509.Name(attributes)


def make_dummy_csr(
    subject: Mapping[str, str] | x509.Name,
    *,
    challenge_password: str | None = None,
    key: PrivateKey | None = None,
) -> bytes:
    """The provisioning template (DER): `subject` with a throw-away key, as the server sends it.

    `subject` is an `x509.Name` or a mapping of OpenSSL short names (`SUBJECT_ATTRIBUTES`) in
    the order they appear, e.g. `{"C": "SE", "O": "Nexus", "CN": "Anders"}`. The throw-away key
    is a fresh RSA-2048 key (discarded) unless `key` is given (tests use that for speed).
    `challenge_password` (SCEP) is added as a challengePassword attribute, which the device
    copies. A bad subject raises `CsrError` (`CSR_INVALID`).
    """
    builder = x509.CertificateSigningRequestBuilder().subject_name(_subject_name(subject))
    if challenge_password is not None:
        builder = builder.add_attribute(
            AttributeOID.CHALLENGE_PASSWORD, challenge_password.encode("utf-8")
        )
    signing_key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return _sign(builder, signing_key, None)


def template_with_challenge(
    template_b64: str, challenge_password: str, *, key: PrivateKey | None = None
) -> str:
    """A template (base64 DER) with the same subject plus a SCEP challengePassword attribute.

    The server cannot re-sign the client's template (its throw-away key is gone), so it builds a
    new one: same subject, a throw-away key (fresh unless ``key`` is given: the templates of one
    command may share one, which saves an RSA key generation per template). The device copies
    the attribute when re-keying.
    """
    subject = parse_csr_b64(template_b64).subject
    der = make_dummy_csr(subject, challenge_password=challenge_password, key=key)
    return base64.b64encode(der).decode("ascii")
