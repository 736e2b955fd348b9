"""Device attestation keys a group trusts (docs/PROTOCOL.md §6.2 rule 1)."""

import json

from django.db import transaction

from hermod_core.crypto.errors import CryptoError
from hermod_core.crypto.jwk import jwk_from_public_key, public_key_from_jwk, thumbprint
from hermod_core.models import Group, TrustedAttestationKey
from hermod_core.services.audit import Actor, audit_record
from hermod_core.services.errors import ServiceError

# A private JWK member: a pasted key holding one is refused, so no private key is ever stored.
_PRIVATE_JWK_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


@transaction.atomic
def trusted_key_add(
    *, actor: Actor, group: Group, jwk_text: str, label: str = ""
) -> TrustedAttestationKey:
    """Trust a device attestation key (docs/PROTOCOL.md §6.2 rule 1) for a group.

    Only the public members are stored (a JWK with private members is refused); the
    thumbprint is RFC 7638, as recorded on profiles. ``ServiceError`` says why a key is refused.
    """
    try:
        raw = json.loads(jwk_text)
    except json.JSONDecodeError:
        raise ServiceError("The key is not valid JSON.") from None
    if isinstance(raw, dict) and _PRIVATE_JWK_MEMBERS & raw.keys():
        raise ServiceError("That is a private key; paste the public JWK only.")
    try:
        public = jwk_from_public_key(public_key_from_jwk(raw))
        print_ = thumbprint(public)
    except CryptoError as exc:
        raise ServiceError(exc.message) from None
    if TrustedAttestationKey.objects.filter(group=group, thumbprint=print_).exists():
        raise ServiceError("This key is already trusted by the group.")
    key = TrustedAttestationKey.objects.create(
        group=group, label=label.strip()[:200], jwk=public, thumbprint=print_
    )
    audit_record(
        actor=actor,
        action="group.trust_key",
        about=group,
        details={"thumbprint": print_, "label": key.label},
    )
    return key


@transaction.atomic
def trusted_key_remove(*, actor: Actor, key: TrustedAttestationKey) -> None:
    """Stop trusting an attestation key; profiles it signed stay as they are."""
    group = key.group
    details = {"thumbprint": key.thumbprint, "label": key.label}
    key.delete()
    audit_record(
        actor=actor,
        action="group.untrust_key",
        about=group,
        details=details,
    )
