"""The CA certificates a group trusts for the signers of profile-less answers (docs/PROTOCOL.md
§6.3).

An auth/sign command sent to ``@tmp`` without a profile is answered with the signer's certificate;
when the group trusts at least one signer CA, that certificate must chain to one of them
(``crypto.chains``), else the answer is refused (SIGNER_NOT_TRUSTED).
"""

import base64

from cryptography import x509
from django.db import transaction

from hermod_core.crypto.certs import parse_certificate_b64
from hermod_core.crypto.errors import CryptoError
from hermod_core.models import Group, TrustedSignerCa
from hermod_core.services.audit import Actor, audit_record


class SignerCaError(Exception):
    """A certificate that cannot become a trusted signer CA (the message says why)."""


@transaction.atomic
def signer_ca_add(
    *, group: Group, certificate_text: str, label: str, actor: Actor
) -> TrustedSignerCa:
    """Trust a CA certificate (PEM or base64 DER) for the group's signers. It must be a CA
    certificate (basicConstraints cA=true); the same certificate twice is refused."""
    try:
        parsed = parse_certificate_b64(certificate_text)
    except CryptoError as exc:
        raise SignerCaError(exc.message) from None
    try:
        constraints = parsed.certificate.extensions.get_extension_for_class(
            x509.BasicConstraints
        ).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is None or not constraints.ca:
        raise SignerCaError("The certificate is not a CA certificate (basicConstraints cA).")
    if TrustedSignerCa.objects.filter(group=group, sha256=parsed.sha256_fingerprint).exists():
        raise SignerCaError("The group already trusts this CA certificate.")
    row = TrustedSignerCa.objects.create(
        group=group,
        label=label.strip()[:200],
        der_b64=base64.b64encode(parsed.der).decode("ascii"),
        subject=parsed.subject[:1000],
        sha256=parsed.sha256_fingerprint,
        not_after=parsed.not_after,
    )
    audit_record(
        actor=actor,
        action="group.trust_signer_ca",
        about=group,
        details={"sha256": row.sha256, "subject": row.subject, "label": row.label},
    )
    return row


@transaction.atomic
def signer_ca_remove(*, ca: TrustedSignerCa, actor: Actor) -> None:
    """Stop trusting a signer CA certificate."""
    group = ca.group
    audit_record(
        actor=actor,
        action="group.untrust_signer_ca",
        about=group,
        details={"sha256": ca.sha256, "subject": ca.subject},
    )
    ca.delete()
