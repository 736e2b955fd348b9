"""The request bodies of the operations (one per command endpoint of docs/PROTOCOL.md §4, the
device's answer, the push registration, the CA's challenge check) and the operations'
descriptions."""

from hermod_core.api.schema.blocks import Doc, Schema, doc, obj, ref, string, use
from hermod_core.api.schema.components import BODY_COMPONENT
from hermod_core.protocol.commands import (
    ENDPOINTS,
    Endpoint,
)

# --- command requests: one row per endpoint of docs/PROTOCOL.md §4 -----------------------------

_COMMANDS: dict[str, tuple[str, str]] = {
    # endpoint: (request component, what it does)
    "provision": ("Provision", "Provision a profile and generate its keys on a device."),
    "certificate": ("Certificate", "Install certificates into a provisioned profile."),
    "authenticate": ("Authenticate", "Ask the device to sign a challenge with a profile key."),
    "sign": ("Sign", "Ask the user to sign data with a profile key."),
    "ping": ("Ping", "Ask a device for its device and profile information."),
    "delete": ("Delete", "Delete a profile's mailbox and, on desktop, the profile."),
    "startpinreset": ("StartPinReset", "Desktop: start a PIN reset or admin-key change."),
    "endpinreset": ("EndPinReset", "Desktop: finish a PIN reset with the encrypted nonce."),
}
assert _COMMANDS.keys() == ENDPOINTS.keys()


def _request_schema(endpoint: Endpoint) -> Schema:
    return obj(
        f"A {endpoint.command_type} command: `commandHeader` and `{endpoint.body_key}` "
        "(docs/PROTOCOL.md §4). Unknown members are ignored; another command's object answers 400.",
        {
            "commandHeader": ref("CommandHeader"),
            endpoint.body_key: ref(BODY_COMPONENT[endpoint.body_key]),
        },
        required=[endpoint.body_key],
        kept=True,
    )


_REQUESTS = {
    name: doc(component, _request_schema(ENDPOINTS[name]))
    for name, (component, _) in _COMMANDS.items()
}
COMMAND_DESCRIPTIONS = {
    name: f"{what} Body key `{e.body_key}`; the device answers with `{e.answer_key}`; the "
    f"result body is POSTed to `<callback-url>{e.callback_path}` when the command ends. "
    f"Also served as `/command/{name}`."
    for name, (_, what) in _COMMANDS.items()
    for e in [ENDPOINTS[name]]
}


def command_request(name: str) -> type[Doc]:
    """The request body of ``POST /command/<name>``."""
    return _REQUESTS[name]


ANSWER_REQUEST = doc(
    "Answer",
    obj(
        "A device's answer (docs/PROTOCOL.md §6): `responseHeader` and the answer object of the "
        "message's command type (`provResponse` for a provisioning message …).",
        {
            "responseHeader": ref("ResponseHeader"),
            **{
                e.answer_key: use("DeviceResponse", f"The answer to a {e.command_type} message.")
                for e in ENDPOINTS.values()
            },
        },
        required=["responseHeader"],
        kept=True,
    ),
)

PUSH_REQUEST = doc(
    "PushRegistration",
    obj(
        "Where the device wants to be woken when a message waits in its box. A new registration "
        "replaces the previous one.",
        {
            "provider": use(
                "PushProvider", "The push provider; the group must have it configured."
            ),
            "token": string(
                "The app's address at the provider: the device token (`relay`), the FCM "
                "registration token, the APNs device token in hex, or the Web Push endpoint "
                "URL (`webpush`).",
                maxLength=4096,
            ),
            "os": string(
                "The device's OS (`ios`, `android`, `linux` …).", pattern="^[A-Za-z0-9._-]{1,20}$"
            ),
            "p256dh": string(
                "`webpush` only: the subscription's P-256 public key, base64url (RFC 8291)."
            ),
            "auth": string("`webpush` only: the subscription's 16-byte auth secret, base64url."),
        },
        required=["provider", "token", "os"],
    ),
)

CA_VERIFY_DESCRIPTION = (
    "Called by a group's SCEP CA (directly, or through the `hermod-scep-verify` executable given "
    "to micromdm's `scepserver -csrverifierexec`) before it issues a certificate for a CSR that "
    "carries a one-time challenge from a Hermod CSR template. Authenticated with the group's CA "
    "verifier credential (`Authorization: Bearer <credential>`, shown once when generated with "
    "`manage.py hermod_ca verifier <group>` or in the console). Send the CSR as the CA received "
    "it (`csr`, base64 DER; preferred) or only its `challenge`. Accepted only while the "
    "challenge's provisioning is COMPLETED and its CA step is running, for a challenge of the "
    "credential's group, and, with a CSR, only for the public key and subject the device proved "
    "in its accepted answer. The first acceptance consumes the challenge; the same key may be "
    "verified again (a retried enrolment), nothing else. A challenge checked without a CSR is "
    "used up by that check. Also served as `/ca/challenge/verify`."
)
CA_VERIFY_REQUEST = doc(
    "ChallengeVerification",
    obj(
        "The CSR the CA received, or the challenge alone (at least one).",
        {
            "csr": string(
                "The CSR (base64 DER PKCS#10, as the CA received it); its challengePassword "
                "is the challenge.",
                maxLength=65536,
            ),
            "challenge": string(
                "The challenge alone, for a CA that cannot pass the CSR; with `csr` it must "
                "equal the CSR's challengePassword.",
                maxLength=255,
            ),
        },
    )
    | {"anyOf": [{"required": ["csr"]}, {"required": ["challenge"]}]},
)
