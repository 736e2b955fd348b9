"""Each operation's answers, status by status: the response bodies and their examples, the
errors with the body ``api.errors`` renders (docs/PROTOCOL.md §12)."""

from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse

from hermod_core.api.errors import UNAUTHORIZED_MESSAGE, error_body
from hermod_core.api.schema.blocks import array, doc, obj, ref, string, use, uuid
from hermod_core.api.schema.components import BODY_COMPONENT
from hermod_core.api.schema.examples import (
    BOX_EXAMPLE,
    BOX_TOKEN_EXAMPLE,
    CANCELLED_EXAMPLE,
    COMMAND_ID,
    MESSAGE_EXAMPLE,
    PUSH_EXAMPLE,
    RESULT_EXAMPLES,
)
from hermod_core.protocol.commands import ENDPOINTS

_ERROR = doc(
    "Error",
    obj(
        "Every error (docs/PROTOCOL.md §12). No stack trace, SQL or internal path.",
        {
            "error": obj(
                "What went wrong.",
                {
                    "code": string(
                        "Stable, UPPER_SNAKE; clients may branch on it.",
                        pattern="^[A-Z][A-Z0-9_]*$",
                    ),
                    "message": string("One sentence for a person."),
                    "field": string(
                        "The dotted path of the member at fault, when one is "
                        "(`provCommand.profile.keygenrequests[0].certreq`)."
                    ),
                },
                required=["code", "message"],
            )
        },
        required=["error"],
    ),
)


def _error(description: str, code: str, message: str, field: str | None = None) -> OpenApiResponse:
    example = OpenApiExample(code, value=error_body(code, message, field))
    return OpenApiResponse(_ERROR, description=description, examples=[example])


_NOT_JSON = (
    "The body is not JSON, a member has the wrong type or a must is missing (names `field`)."
)
_SERVER_ERRORS = {
    500: _error("An unexpected error (logged).", "INTERNAL_ERROR", "An internal error occurred."),
    503: _error(
        "The database is unavailable; retry after `Retry-After` seconds.",
        "SERVICE_UNAVAILABLE",
        "The service is temporarily unavailable; retry later.",
    ),
}
_UNAUTHORIZED = _error(
    "X-Api-Key missing, malformed, unknown, disabled or wrong (the same answer for each).",
    "UNAUTHORIZED",
    UNAUTHORIZED_MESSAGE,
)
_NO_COMMAND = _error(
    "No such command of this client.",
    "COMMAND_NOT_FOUND",
    f"No command {COMMAND_ID} for this client.",
)
_NO_BOX = _error(
    "Unknown box or message, or a wrong, used, withdrawn or expired token: the same answer for "
    "each (docs/PROTOCOL.md §6).",
    "NOT_FOUND",
    "No such box or message.",
)
_TOO_LARGE = _error(
    "The body is larger than the limit.",
    "PAYLOAD_TOO_LARGE",
    f"The request body exceeds {settings.HERMOD_MAX_BODY_BYTES} bytes.",
)

_RESULT = doc(
    "CommandResult",
    obj(
        "The result body (docs/PROTOCOL.md §4.2, §8): the synchronous answer, the poll answer and "
        "the callback body. Once the device answered it carries the device's `responseHeader` and "
        "answer object unchanged; a completed provisioning adds `profile` (and `certificates` "
        "when the group's CA issued them).",
        {
            "responseHeader": use("ResponseHeader", "The device's answer header."),
            **{
                e.answer_key: use(
                    "DeviceResponse", f"The device's answer to a {e.command_type} command."
                )
                for e in ENDPOINTS.values()
            },
            "commandId": string("The command (a number sent as a string).", pattern="^[0-9]+$"),
            "externalId": string("The client's `commandHeader.externalId`, when it sent one."),
            "destinations": array("One per box the command was delivered to.", ref("Destination")),
            "commandType": ref("CommandType"),
            "state": ref("CommandState"),
            "fqdn": string("The host name of the server's public URL."),
            "failure": use("Failure", "Why the command ended FAILED, EXPIRED or CANCELLED."),
            "profile": use(
                "ProfileSummary",
                "After a completed provisioning; after a profile-less `@tmp` sign/authenticate "
                "whose signing key is an active key of a profile of the group.",
            ),
            "verification": use(
                "Verification", "Auth/sign, once an answer was accepted: how far it was checked."
            ),
            "signer": use("Signer", "Auth/sign sent to `@tmp` without a profile, once answered."),
            "certificates": array(
                "Certificates the group's CA issued for the new keys.", ref("CertificateSummary")
            ),
        },
        required=["commandId", "destinations", "commandType", "state", "fqdn"],
    ),
)

COMMAND_RESPONSES = {
    200: OpenApiResponse(_RESULT, description="Created: the command is IN_PROGRESS."),
    400: _error(
        f"{_NOT_JSON} Also: another command's object on this endpoint, or a certreq or "
        "certificate that does not parse or match.",
        "MISSING_FIELD",
        "provCommand.profile.keygenrequests[0].certreq is required.",
        "provCommand.profile.keygenrequests[0].certreq",
    ),
    401: _UNAUTHORIZED,
    404: _error(
        "An address in `commandHeader.to` (or the `profileid`, or the `smartcardid`: "
        "SMARTCARD_NOT_FOUND) resolves to no box; nothing is stored.",
        "ADDRESS_NOT_FOUND",
        "@userA has no active profile.",
        "commandHeader.to[0]",
    ),
    413: _TOO_LARGE,
    429: OpenApiResponse(
        _ERROR,
        description="Too many commands of this client in progress, or too many requests (see "
        "`Retry-After`).",
        examples=[
            OpenApiExample(
                "TOO_MANY_IN_PROGRESS",
                value=error_body(
                    "TOO_MANY_IN_PROGRESS",
                    f"The client already has {settings.HERMOD_MAX_IN_PROGRESS} commands in "
                    "progress.",
                ),
            ),
            OpenApiExample(
                "RATE_LIMITED", value=error_body("RATE_LIMITED", "Too many requests; retry later.")
            ),
        ],
    ),
    **_SERVER_ERRORS,
}
_RATE_LIMITED = _error(
    "Too many requests from this client, token or address (see `Retry-After`).",
    "RATE_LIMITED",
    "Too many requests; retry later.",
)

POLL_RESPONSES = {
    200: OpenApiResponse(
        _RESULT, description="The command as it is now.", examples=RESULT_EXAMPLES
    ),
    401: _UNAUTHORIZED,
    404: _NO_COMMAND,
    429: _RATE_LIMITED,
    **_SERVER_ERRORS,
}
CANCEL_RESPONSES = {
    200: OpenApiResponse(
        _RESULT, description="Cancelled: its messages are withdrawn.", examples=[CANCELLED_EXAMPLE]
    ),
    401: _UNAUTHORIZED,
    404: _NO_COMMAND,
    409: _error("The command is already final.", "COMMAND_FINAL", "The command is already final."),
    429: _RATE_LIMITED,
    **_SERVER_ERRORS,
}

# What every mailbox operation may answer besides its own (docs/PROTOCOL.md §6, §12).
_MAILBOX_ERRORS = {404: _NO_BOX, 429: _RATE_LIMITED, **_SERVER_ERRORS}
_MAILBOX_AUTH = (
    " The box opens with its destination's one-time token (from the plug-out URI) or, for a "
    "profile's permanent box, its box token: `Authorization: Bearer <token>` or `?token=`. "
    "Also served as `/ms/...`."
)
BOX_RESPONSES = {
    200: OpenApiResponse(
        doc(
            "MailboxListing",
            obj(
                "The messages waiting in a box, oldest first: not yet answered, not expired.",
                {
                    "bid": uuid("The box."),
                    "messages": array("Oldest first.", ref("MailboxEntry")),
                },
                required=["bid", "messages"],
            ),
        ),
        description=f"The waiting messages.{_MAILBOX_AUTH}",
        examples=[OpenApiExample("A waiting sign request", value=BOX_EXAMPLE)],
    ),
    **_MAILBOX_ERRORS,
}
MESSAGE_RESPONSES = {
    200: OpenApiResponse(
        doc(
            "Message",
            obj(
                "One message: its header and the command object exactly as the client sent it "
                "(exactly one of the `*Command` members). Fetching marks it FETCHED.",
                {
                    "messageHeader": ref("MessageHeader"),
                    **{e.body_key: ref(BODY_COMPONENT[e.body_key]) for e in ENDPOINTS.values()},
                    "assigned": use(
                        "Assigned", "Provisioning only: the profile id and box to use."
                    ),
                },
                required=["messageHeader"],
            ),
        ),
        description=f"The message.{_MAILBOX_AUTH}",
        examples=[OpenApiExample("A provisioning message", value=MESSAGE_EXAMPLE)],
    ),
    **_MAILBOX_ERRORS,
}

ANSWER_RESPONSES = {
    200: OpenApiResponse(
        doc(
            "AnswerResult",
            obj(
                "How the command ended.",
                {
                    "state": ref("AnswerState"),
                    "boxtoken": string(
                        "An accepted provisioning only: the secret that opens the new profile's "
                        "permanent box from now on (given once, to this device alone)."
                    ),
                },
                required=["state"],
            ),
        ),
        description="Accepted: COMPLETED, or FAILED when the device refused (non-zero `code`)."
        " The other destinations of the command are withdrawn.",
        examples=[
            OpenApiExample("Completed", value={"state": "COMPLETED"}),
            OpenApiExample(
                "Provisioning completed",
                value={"state": "COMPLETED", "boxtoken": BOX_TOKEN_EXAMPLE},
            ),
            OpenApiExample("Declined on the device", value={"state": "FAILED"}),
        ],
    ),
    400: _error(
        f"{_NOT_JSON} Nothing is consumed: the device may answer again.",
        "MISSING_FIELD",
        "responseHeader.inReplyTo is required.",
        "responseHeader.inReplyTo",
    ),
    404: _NO_BOX,
    409: _error(
        "The message was already answered.", "ALREADY_ANSWERED", "The message was already answered."
    ),
    413: _TOO_LARGE,
    422: _error(
        "The answer broke a validation rule (docs/PROTOCOL.md §6.2, §6.3): the command ends FAILED "
        "with the reason recorded.",
        "NONCE_MISMATCH",
        "The answer's nonce is not the command's.",
    ),
    429: _RATE_LIMITED,
    **_SERVER_ERRORS,
}

BOX_TOKEN_RESPONSES = {
    200: OpenApiResponse(
        doc(
            "BoxToken",
            obj(
                "The box's new token; the one presented no longer opens the box.",
                {"boxtoken": string("The secret that opens the permanent box from now on.")},
                required=["boxtoken"],
            ),
        ),
        description="Rotated.",
        examples=[OpenApiExample("Rotated", value={"boxtoken": BOX_TOKEN_EXAMPLE})],
    ),
    **_MAILBOX_ERRORS,
}


PUSH_RESPONSES = {
    200: OpenApiResponse(
        doc(
            "PushRegistered",
            obj(
                "The registration as kept (the token itself is never shown back).",
                {
                    "provider": ref("PushProvider"),
                    "os": string("The OS, lower case."),
                    "fingerprint": string("Tells two registered tokens apart (a keyed hash)."),
                    "updated": string("When it was registered.", format="date-time"),
                    "vapidPublicKey": string(
                        "`webpush` only: the group's VAPID public key (applicationServerKey)."
                    ),
                },
                required=["provider", "os", "fingerprint", "updated"],
            ),
        ),
        description="Registered; messages queued from now on wake the device.",
        examples=[OpenApiExample("Web Push", value=PUSH_EXAMPLE)],
    ),
    400: _error(
        f"{_NOT_JSON} Nothing is stored.",
        "INVALID_FIELD",
        "p256dh must be 65 bytes (an uncompressed P-256 point).",
        "p256dh",
    ),
    404: _NO_BOX,
    413: _TOO_LARGE,
    422: _error(
        "The group has no such provider configured. Nothing is stored.",
        "PUSH_PROVIDER_NOT_CONFIGURED",
        "The group has no fcm push configured.",
        "provider",
    ),
    429: _RATE_LIMITED,
    **_SERVER_ERRORS,
}
PUSH_DELETE_RESPONSES = {
    204: OpenApiResponse(description="Removed (or there was none): the device polls."),
    **_MAILBOX_ERRORS,
}

CA_VERIFY_RESPONSES = {
    200: OpenApiResponse(
        doc(
            "ChallengeAccepted",
            obj(
                "The CA may issue: the challenge is consumed by (bound to) this request's key.",
                {
                    "state": ref("ChallengeVerdict"),
                    "commandId": string("The provisioning command.", pattern="^[0-9]+$"),
                    "keyid": string("The key request the template belonged to."),
                },
                required=["state", "commandId", "keyid"],
            ),
        ),
        description="Accepted: the CA may issue the certificate.",
        examples=[
            OpenApiExample(
                "Accepted",
                value={"state": "ACCEPTED", "commandId": str(COMMAND_ID), "keyid": "signer"},
            )
        ],
    ),
    400: _error(
        f"{_NOT_JSON} Also: a csr that does not parse, is not self-signed, carries no "
        "challengePassword, or carries another challenge than `challenge`.",
        "CSR_WITHOUT_CHALLENGE",
        "The csr carries no challengePassword.",
        "csr",
    ),
    401: _error(
        "The verifier credential is missing or wrong.",
        "UNAUTHORIZED",
        "A valid CA verifier credential is required.",
    ),
    403: _error(
        "Refused, whatever the reason (unknown, another group's, used by another key, command "
        "not at its CA step, past its deadline, another subject): do not issue.",
        "CHALLENGE_REFUSED",
        "The challenge does not allow this enrolment.",
    ),
    413: _TOO_LARGE,
    429: _RATE_LIMITED,
    **_SERVER_ERRORS,
}


GENERATECLIENT_RESPONSES: dict[Any, OpenApiResponse] = {
    (200, "text/plain"): OpenApiResponse(
        OpenApiTypes.STR,
        description="A YAML snippet to paste under `allowed-clients:` (docs/PROTOCOL.md §9); the "
        "key is new and nothing is stored.",
        examples=[
            OpenApiExample(
                "idm",
                value=(
                    "# X-Api-Key: aWRtOjQ0NjAyMDEzNGVlODQyMmRiNTc2OWZiZWY5MTA0YTQxNTc3Mjg2MTAy"
                    "MzZkNGRkMWE0YjM3ZjkzNWRhYjQxMGE=\n"
                    "- client-id: idm\n"
                    "  key: 446020134ee8422db5769fbef9104a4157728610236d4dd1a4b37f935dab410a\n"
                    "  group: default\n"
                    "  callback-url: https://hermod.example.com/callback-base\n"
                ),
            )
        ],
    ),
    400: _error(
        "The client id is empty, longer than 100 characters or contains a colon.",
        "INVALID_CLIENT_ID",
        "The client id is not valid.",
        "clientId",
    ),
    **_SERVER_ERRORS,
}
