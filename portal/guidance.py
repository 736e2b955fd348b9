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
    "EPIN": "end PIN reset (desktop): finishes it (encrypted nonce, optionally a new admin key)",
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

# Help for the provisioning form, by form field name (docs/PROTOCOL.md §5.1; the wording follows
# the product documentation of these options, shared/seeds/000).
FIELD_HELP: Final = {
    "smartcardid": "Desktop: which virtual smart card (profile) in the desktop app this targets. "
    "Leave blank for phones.",
    "adminkey": "Desktop: the card's admin key to set, 48 lowercase hex characters. Masked in "
    "the console; forgotten once the command ends.",
    "oldadminkey": "Desktop: the card's current admin key, changed to adminkey (FreeTPM, <n>TPM).",
    "provisionreader": "Desktop: CreateTPM creates the virtual smart card (the account needs admin "
    "rights); FreeTPM takes a free one, changes its admin key and starts a PIN reset; <n>TPM "
    "does so with the n-th card.",
    "congratsmessage": "Shown instead of the default message when provisioning succeeds (in the "
    "desktop app and on the enrollment page).",
    "protection_level": "Desktop, software keys only: NONE (no confirmation), CONSENT (a Windows "
    "confirmation dialogue), PASSWORD (entered once per session), BIOMETRICS (depends on the "
    "device). 'not sent': the app's default.",
    "flag_singleprofile": "Desktop: provisioning succeeds only if the computer has no other "
    "profile.",
    "flag_deletedisabled": "Desktop: the user cannot delete the profile locally; only a delete "
    "command can.",
    "flag_disableactivatebutton": "Desktop: no Activate button; the app runs the activation "
    "directly.",
    "flag_disablepinresetbutton": "Desktop: no PIN Reset button; the app runs the PIN reset "
    "directly.",
    "flag_hybridprofile": "Desktop: one virtual smart card keeps its keys in different stores, "
    "trying them in the storage priorities' order (e.g. TPM, then OS when the TPM refuses a key).",
}

# Key states as the console shows them (the server passes them to the device as is).
KEY_STATES: Final = {
    "ACTIVE": "the key is active in the app",
    "INACTIVE": "the key was created inactive; it is activated later in the app",
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
    "keystate": "The state the app gives the new key: ACTIVE, or INACTIVE for a key activated "
    "later in the app. Passed to the device as is.",
    "storages": "Where the app keeps the key, first choice first: APP (the app's own store; on a "
    "desktop, the virtual smart card), OS (software keys), TPM (each key on the TPM), YUBI (a "
    "YubiKey).",
    "mechanism": "The signature algorithm of the key's answers (EC keys: ES256/ES384).",
}


def help_texts_apply(form: Any, texts: dict[str, str]) -> None:
    """Give the fields of ``form`` named in ``texts`` their help text (this module is its home)."""
    for name, text in texts.items():
        field = form.fields.get(name)
        if field is not None:
            field.help_text = text
