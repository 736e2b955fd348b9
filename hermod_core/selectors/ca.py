"""Reads of the groups' SCEP CA settings (docs/PROTOCOL.md §10)."""

from hermod_core.models import CaSettings, ChallengeMode

STATIC_CHALLENGE_WARNING = (
    "The static challenge mode puts the CA's challenge password into every CSR template: anyone "
    "who opens a provisioning QR code learns it. Switch to the one-time mode."
)
NO_VERIFIER_WARNING = (
    "The one-time challenge mode needs a verifier credential for the CA "
    "(hermod-scep-verify or the verify endpoint): generate one."
)


def ca_settings_for_verifier(verifier_hash: str) -> CaSettings | None:
    """The CA whose verifier credential has this digest (``services.credentials``), if any."""
    if not verifier_hash:
        return None
    return CaSettings.objects.select_related("group").filter(verifier_hash=verifier_hash).first()


def ca_challenge_warnings(ca: CaSettings) -> list[str]:
    """What an operator must be told about a CA's challenge configuration (console, CLI)."""
    warnings = []
    if ca.sends_static_password:
        warnings.append(STATIC_CHALLENGE_WARNING)
    if ca.challenge_mode == ChallengeMode.ONE_TIME and not ca.verifier_hash:
        warnings.append(NO_VERIFIER_WARNING)
    return warnings
