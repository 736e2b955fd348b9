"""What the console tells a person on every page: what the codes mean and what each option does.

One home for the legends (command types and states, destination and callback states) and the
help texts of the provisioning form's desktop options and key requests, so a page, its fragment
and its form say the same thing (docs/PROTOCOL.md §4, §5.1, §7, §8).
"""

from typing import Any, Final

COMMAND_TYPES: Final = {
    "PROV": "provisioning: creates a profile and its keys on a device (QR code or link)",
    "CERT": "certificate: installs certificates into a provisioned profile",
    "AUTH": "authentication: the user confirms a sign-in on the device, which signs a challenge",
    "SIGN": "signing: the user reviews data on the device and signs it",
    "PING": "ping: asks the device for its device and profile information",
    "DELETE": "delete: removes a profile's mailbox (on a desktop, the profile too)",
    "SPIN": "start PIN reset (desktop): begins a PIN reset, PIN/PUK or admin-key change",
    "EPIN": "end PIN reset (desktop): finishes it with the card's answer",
}

COMMAND_STATES: Final = {
    "IN_PROGRESS": "waiting for a device to answer (until the timeout)",
    "COMPLETED": "a device answered and the server validated its answer",
    "FAILED": "the user declined, the device failed, or its answer was refused",
    "EXPIRED": "no valid answer came before the timeout",
    "CANCELLED": "cancelled by its client or in the console",
}

DESTINATION_STATES: Final = {
    "WAITING": "the app has not opened the message yet",
    "FETCHED": "the app has the message; the user is answering",
    "ANSWERED": "this box answered",
    "WITHDRAWN": "another box answered, the command ended, or the lifespan passed unopened",
    "EXPIRED": "the command expired before this box answered",
}

CALLBACK_STATES: Final = {
    "WAITING": "the command is in progress (or its CA step runs): nothing to send yet",
    "PENDING": "due now, or failed and waiting for its next attempt",
    "DELIVERED": "the client's receiver answered 2xx",
    "EXHAUSTED": "every attempt failed; it can be resent from Callbacks",
    "SKIPPED": "the client has no callback URL (it polls)",
}

# Help for the provisioning form, by form field name (docs/PROTOCOL.md §5.1).
FIELD_HELP: Final = {
    "smartcardid": "Desktop: the virtual smart card the profile goes on. Leave blank for phones.",
    "adminkey": "Desktop: the card's new admin key, 48 lowercase hex characters. Masked in the "
    "console; forgotten once the command ends.",
    "oldadminkey": "Desktop: the card's current admin key when it is being replaced (48 hex).",
    "provisionreader": "Desktop: CreateTPM makes a new TPM virtual card, FreeTPM uses a free one, "
    "<n>TPM the n-th one.",
    "congratsmessage": "Shown to the user when the enrollment completes (app and enrollment page).",
    "protection_level": "Desktop: what unlocks the keys: NONE, CONSENT (a click), PASSWORD or "
    "BIOMETRICS. 'not sent': the app's default.",
    "flag_singleprofile": "Desktop: the app keeps only this profile.",
    "flag_deletedisabled": "Desktop: the user cannot delete the profile.",
    "flag_disableactivatebutton": "Desktop: hides the button that activates inactive keys.",
    "flag_disablepinresetbutton": "Desktop: hides the PIN reset button.",
    "flag_hybridprofile": "Desktop: the profile is usable by both the desktop and mobile app.",
}

KEY_STATES: Final = {
    "ACTIVE": "usable: the app signs with it",
    "INACTIVE": "generated, but unusable until a certificate command sets it ACTIVE",
}

PROFILE_STATES: Final = {
    "ACTIVE": "provisioned; its box receives commands",
    "DELETED": "deleted by a delete command; its box is closed",
}

BOX_TOKEN_STATES: Final = {
    "held": "the device opens its box with its own secret token (rotated by the device)",
    "revoked": "the device can no longer open its box; provision it again to reconnect it",
}

KEY_HELP: Final = {
    "usage": "SIG signing, AUTH authentication, ENC encryption, DEVICE_ENC device encryption.",
    "keystate": "ACTIVE: usable as soon as the profile is created. INACTIVE: generated now but "
    "unusable until a certificate command sets it ACTIVE.",
    "storages": "Where the app may keep the key, first choice first: APP (the app's own store), "
    "OS (the phone's keystore), TPM (a computer's TPM), YUBI (a YubiKey).",
    "mechanism": "The signature algorithm of the key's answers (EC keys: ES256/ES384).",
}


def help_texts_apply(form: Any, texts: dict[str, str]) -> None:
    """Give the fields of ``form`` named in ``texts`` their help text (this module is its home)."""
    for name, text in texts.items():
        field = form.fields.get(name)
        if field is not None:
            field.help_text = text
