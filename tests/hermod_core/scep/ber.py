"""Hand-made BER encodings of a SUCCESS CertRep, the way micromdm-style CAs send them.

`indefinite=True`: every wrapper has an indefinite length and both the eContent and the
encryptedContent are constructed OCTET STRINGs split into small chunks.
`indefinite=False`: DER wrappers, but the two strings are constructed with definite lengths —
exactly micromdm 2.1's `A0 82 .. 04 82 ..` encryptedContent, which asn1crypto's CMS classes reject.
The signed attributes and certificates stay DER: their bytes are signed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from asn1crypto import algos, core
from asn1crypto import cms as asn1_cms
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from hermod_core.scep import ciphers, cms, message
from hermod_core.scep.ciphers import ContentCipher
from tests.hermod_core.scep import factories

CHUNK = 37  # deliberately not a multiple of any block size


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def cons(tag: int, *parts: bytes, indefinite: bool) -> bytes:
    body = b"".join(parts)
    if indefinite:
        return bytes([tag]) + b"\x80" + body + b"\x00\x00"
    return bytes([tag]) + _length(len(body)) + body


def chunked(tag: int, value: bytes, *, indefinite: bool) -> bytes:
    """A constructed string: `tag` (with the constructed bit) around primitive OCTET STRINGs."""
    pieces = [value[i : i + CHUNK] for i in range(0, len(value), CHUNK)] or [b""]
    return cons(tag, *(b"\x04" + _length(len(p)) + p for p in pieces), indefinite=indefinite)


def _oid(dotted: str) -> bytes:
    return bytes(core.ObjectIdentifier(dotted).dump())


OID_DATA = "1.2.840.113549.1.7.1"
OID_SIGNED = "1.2.840.113549.1.7.2"
OID_ENVELOPED = "1.2.840.113549.1.7.3"


def _signed_data(*fields: bytes, indefinite: bool) -> bytes:
    """A ContentInfo of type signedData around a SignedData of version 1 whose further fields
    (digest algorithms, content, certificates, signer infos) are ``fields``."""
    return cons(
        0x30,
        _oid(OID_SIGNED),
        cons(
            0xA0,
            cons(0x30, b"\x02\x01\x01", *fields, indefinite=indefinite),
            indefinite=indefinite,
        ),
        indefinite=indefinite,
    )


def ber_degenerate(certs: Sequence[x509.Certificate], *, indefinite: bool) -> bytes:
    return _signed_data(
        b"\x31\x00",
        cons(0x30, _oid(OID_DATA), indefinite=indefinite),
        cons(0xA0, *(factories.der(c) for c in certs), indefinite=indefinite),
        b"\x31\x00",
        indefinite=indefinite,
    )


def ber_enveloped(
    plaintext: bytes, recipient: x509.Certificate, cipher: ContentCipher, *, indefinite: bool
) -> bytes:
    key, iv = ciphers.new_key(cipher), ciphers.new_iv(cipher)
    public_key = recipient.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    ias = asn1_cms.IssuerAndSerialNumber(
        {
            "issuer": asn1_cms.Name.load(recipient.issuer.public_bytes()),
            "serial_number": recipient.serial_number,
        }
    )
    ktri = asn1_cms.KeyTransRecipientInfo(
        {
            "version": "v0",
            "rid": asn1_cms.RecipientIdentifier({"issuer_and_serial_number": ias}),
            "key_encryption_algorithm": {"algorithm": "rsaes_pkcs1v15"},
            "encrypted_key": public_key.encrypt(key, padding.PKCS1v15()),
        }
    )
    algorithm = algos.EncryptionAlgorithm(
        {"algorithm": cipher.value, "parameters": core.OctetString(iv)}
    )
    ciphertext = ciphers.encrypt(cipher, key, iv, plaintext)
    return cons(
        0x30,
        _oid(OID_ENVELOPED),
        cons(
            0xA0,
            cons(
                0x30,
                b"\x02\x01\x00",
                cons(0x31, ktri.dump(), indefinite=False),
                cons(
                    0x30,
                    _oid(OID_DATA),
                    algorithm.dump(),
                    # [0] IMPLICIT OCTET STRING, constructed: the micromdm quirk.
                    chunked(0xA0, ciphertext, indefinite=indefinite),
                    indefinite=indefinite,
                ),
                indefinite=indefinite,
            ),
            indefinite=indefinite,
        ),
        indefinite=indefinite,
    )


def ber_success_cert_rep(
    *,
    issued: Sequence[x509.Certificate],
    recipient: x509.Certificate,
    cipher: ContentCipher,
    transaction_id: str,
    recipient_nonce: bytes,
    signer_key: rsa.RSAPrivateKey,
    signer_cert: x509.Certificate,
    indefinite: bool,
) -> bytes:
    envelope = ber_enveloped(
        ber_degenerate(issued, indefinite=indefinite), recipient, cipher, indefinite=indefinite
    )
    # The package builder signs (digesting the envelope's octets); we then re-wrap its parts.
    signed = cms.build_signed_data(
        content=envelope,
        signer_key=signer_key,
        signer_cert=signer_cert,
        attributes=[
            (message.OID_MESSAGE_TYPE, core.PrintableString(message.CERT_REP)),
            (message.OID_TRANSACTION_ID, core.PrintableString(transaction_id)),
            (message.OID_PKI_STATUS, core.PrintableString("0")),
            (message.OID_SENDER_NONCE, core.OctetString(os.urandom(16))),
            (message.OID_RECIPIENT_NONCE, core.OctetString(recipient_nonce)),
        ],
        certificates=[signer_cert],
    )
    parts = asn1_cms.ContentInfo.load(signed)["content"]
    return _signed_data(
        parts["digest_algorithms"].dump(),
        cons(
            0x30,
            _oid(OID_DATA),
            # eContent [0] EXPLICIT, holding a constructed OCTET STRING.
            cons(0xA0, chunked(0x24, envelope, indefinite=indefinite), indefinite=indefinite),
            indefinite=indefinite,
        ),
        parts["certificates"].dump(),
        parts["signer_infos"].dump(),
        indefinite=indefinite,
    )
