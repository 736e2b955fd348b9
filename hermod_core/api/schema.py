"""OpenAPI description of the command and mailbox API (docs/PROTOCOL.md), served at
/hermod/v3/api-docs.

The wire formats are written here as plain OpenAPI 3.0 schema objects, not as serializers: the
protocol keeps members it does not know, accepts numbers and booleans spelled as strings ("2048",
"true") and names members after the command type (``provCommand`` …), none of which a serializer
describes well. ``COMPONENTS`` holds the named schemas. A view names the body it takes or answers
with a documentation-only serializer class (``_Doc``); ``_DocExtension`` hands drf-spectacular that
class's schema, and the post-processing hook ``add_components`` adds every component the document
refers to, so each appears once, by name.

Examples are built with the same pure functions the server renders its bodies with
(``protocol.results``, ``api.errors``), so they cannot drift from the real shapes.
"""

import copy
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from rest_framework import serializers

from hermod_core.api.errors import UNAUTHORIZED_MESSAGE, error_body
from hermod_core.lifecycle import State
from hermod_core.protocol.answers import DEVICE_CODES
from hermod_core.protocol.commands import (
    DEFAULT_SECONDS,
    ENDPOINTS,
    FILTER_PARAMS,
    KEY_SIZES,
    KEYSTATES,
    MAX_SECONDS,
    MECHANISMS,
    PROTECTION_LEVELS,
    SIGN_FORMATS,
    SPIN_OPERATIONS,
    STORAGES,
    TMP,
    USAGES,
    CommandType,
    Endpoint,
)
from hermod_core.protocol.results import (
    APP_LINK_SCHEME,
    DestinationView,
    ResultView,
    app_link,
    box_url,
    message_location,
    plugout_uri,
    result_body,
)
from hermod_core.protocol.seed_examples import SEED_CERTIFICATE_B64, SEED_DUMMY_CSR_B64

Schema = dict[str, Any]

# --- building blocks ---------------------------------------------------------------------------

_REF_PREFIX = "#/components/schemas/"


def _ref(name: str) -> Schema:
    return {"$ref": f"{_REF_PREFIX}{name}"}


def _use(name: str, description: str) -> Schema:
    """A component used as a property with its own description (OpenAPI 3.0 ignores siblings of
    ``$ref``, hence the one-element ``allOf``)."""
    return {"allOf": [_ref(name)], "description": description}


def _obj(
    description: str,
    properties: dict[str, Schema],
    *,
    required: Iterable[str] = (),
    kept: bool = False,
) -> Schema:
    """An object; ``kept``: unknown members are accepted and kept (docs/PROTOCOL.md §4.1)."""
    schema: Schema = {"type": "object", "description": description, "properties": properties}
    if required:
        schema["required"] = list(required)
    if kept:
        schema["additionalProperties"] = True
    return schema


def _str(description: str, **constraints: Any) -> Schema:
    return {"type": "string", "description": description, **constraints}


def _uuid(description: str) -> Schema:
    return _str(description, format="uuid")


def _list(description: str, items: Schema, **constraints: Any) -> Schema:
    return {"type": "array", "description": description, "items": items, **constraints}


def _enum(description: str, values: Iterable[str]) -> Schema:
    return {"type": "string", "description": description, "enum": [str(v) for v in values]}


def _number(
    description: str,
    *,
    values: Iterable[int] = (),
    minimum: int | None = None,
    maximum: int | None = None,
    default: int | None = None,
) -> Schema:
    """A number that integrations may also send as a string ("2048"): both are accepted."""
    as_number: Schema = {"type": "integer"}
    as_text: Schema = {"type": "string"}
    if values:
        as_number["enum"] = list(values)
        as_text["enum"] = [str(v) for v in values]
    else:
        as_text["pattern"] = "^[0-9]+$"
        if minimum is not None:
            as_number["minimum"] = minimum
        if maximum is not None:
            as_number["maximum"] = maximum
    schema: Schema = {
        "description": f"{description} A JSON number or the same number as a string.",
        "oneOf": [as_number, as_text],
    }
    if default is not None:
        schema["default"] = default
    return schema


def _flag(description: str, *, default: bool | None = None) -> Schema:
    """A boolean that integrations usually send as the string "true" or "false"."""
    schema: Schema = {
        "description": f'{description} "true"/"false" (the documented spelling) or a JSON boolean.',
        "oneOf": [{"type": "boolean"}, {"type": "string", "enum": ["true", "false"]}],
    }
    if default is not None:
        schema["default"] = "true" if default else "false"
    return schema


_HEX48 = "^[0-9a-f]{48}$"
_MECHANISMS = [*MECHANISMS["RSA"], *MECHANISMS["EC"]]
_KEY_LENGTHS = sorted({n for sizes in KEY_SIZES.values() for n in sizes})
_PROFILE_ID = _uuid(
    "The profile the command is for. Required unless `commandHeader.to` names the box "
    "(a profile id or `@<userid>`), a `smartcardid` names it (certificate, startpinreset, "
    "endpinreset, delete), or the command is a sign, authenticate or startpinreset sent to "
    "`@tmp` for whichever desktop app opens the link."
)
_SMARTCARD_ID = _str(
    "Desktop: the virtual smart card (profile) in the desktop app. Without `profileid` it "
    "addresses the group's active profile provisioned with this smart-card id (its newest, if "
    "there are several); none answers 404 SMARTCARD_NOT_FOUND naming this field."
)

# --- components --------------------------------------------------------------------------------

COMPONENTS: dict[str, Schema] = {
    # Vocabulary (docs/PROTOCOL.md §4, §5, §7): named so that generated clients share one type each.
    "CommandType": _enum("The type of a command (docs/PROTOCOL.md §4).", CommandType),
    "CommandState": _enum(
        "IN_PROGRESS until the command ends in one of the final states (docs/PROTOCOL.md §7).",
        State,
    ),
    "KeyUsage": _enum("What a key is for.", USAGES),
    "KeyType": _enum("The key algorithm.", KEY_SIZES),
    "ResponseMechanism": _enum(
        "The signature algorithm of the signed key; an EC key's follows its curve size.",
        _MECHANISMS,
    ),
    "KeyStorage": _enum("Where the device may keep the key, in order of preference.", STORAGES),
    "KeyState": _enum("The state the key is created or installed in.", KEYSTATES),
    "KeyProtectionLevel": _enum(
        "Desktop: how the key is protected; stored and passed to the device.", PROTECTION_LEVELS
    ),
    "ResponseSignatureKey": _enum(
        "The key that signs the provisioning answer: the app's attestation key.", ["ATTESTATION"]
    ),
    "ResponseFormat": _enum("The format of the provisioning answer.", ["jws"]),
    "SignFormat": _enum(
        "Matched without regard to case. jws: a compact JWS (verified); pkcs7: base64 DER CMS "
        "SignedData (verified); raw (also pkcs1): base64 RSASSA-PKCS1-v1_5 signature over the "
        "concatenated tbs data, hashed per `mechanism` (CKM_SHA256_RSA_PKCS default, "
        "CKM_SHA384_RSA_PKCS, CKM_SHA512_RSA_PKCS; verified; needs a profile); xmldsig: base64 "
        "XML Signature document, passed through and recorded NOT_VERIFIED_BY_SERVER.",
        [*SIGN_FORMATS, *(f.upper() for f in SIGN_FORMATS)],
    ),
    "DestinationState": _enum(
        "A destination's progress (docs/PROTOCOL.md §7): WAITING (not opened yet), FETCHED "
        "(the app has the message), ANSWERED, WITHDRAWN (another destination answered, the command "
        "ended, or its lifespan passed unopened), EXPIRED.",
        ["WAITING", "FETCHED", "ANSWERED", "WITHDRAWN", "EXPIRED"],
    ),
    "Verification": _enum(
        "What the server established of an accepted auth/sign answer: VERIFIED (signature and "
        "binding to the command checked), NOT_VERIFIED_BY_SERVER (xmldsig: passed through).",
        ["VERIFIED", "NOT_VERIFIED_BY_SERVER"],
    ),
    "FilterOp": _enum("The comparison.", ["eq"]),
    "FilterParam": _enum("The key attribute compared.", FILTER_PARAMS),
    "ContentEncoding": _enum("How `data` is encoded.", ["base64"]),
    "SpinOperation": _enum("What the desktop app resets or changes.", SPIN_OPERATIONS),
    "AnswerState": _enum(
        "COMPLETED when the answer was valid; FAILED when the device refused or failed "
        "(non-zero code).",
        [State.COMPLETED, State.FAILED],
    ),
    # --- command requests (docs/PROTOCOL.md §4.1, §5) ---
    "CommandHeader": _obj(
        "Where the command goes and how long it lives (docs/PROTOCOL.md §4.1). "
        "Optional as a whole.",
        {
            "to": _list(
                'Addresses: "@tmp" (a new temporary box), "@<userid>" (every active profile of '
                "the user in the client's group) or a profile id. Provision takes only "
                '["@tmp"] (its default); other commands default to the profile named by '
                "`profileid`. An address that resolves to no box answers 404.",
                _str("One address."),
                minItems=1,
                maxItems=100,
            ),
            "lifespan": _number(
                "Seconds the message stays fetchable in the box.",
                minimum=1,
                maximum=MAX_SECONDS,
                default=DEFAULT_SECONDS,
            ),
            "timeout": _number(
                "Seconds from creation until the command expires without a valid answer; at "
                "least `lifespan`.",
                minimum=1,
                maximum=MAX_SECONDS,
                default=DEFAULT_SECONDS,
            ),
            "externalId": _str(
                "The client's correlation id, echoed in every response, poll and callback.",
                maxLength=255,
            ),
        },
        kept=True,
    ),
    "ProvCommand": _obj(
        "Provision a profile and generate its keys on a device (docs/PROTOCOL.md §5.1). Unknown "
        "members are kept and passed to the device unchanged.",
        {
            "nonce": _str(
                "The device signs it back in its answer.",
                minLength=1,
                maxLength=128,
                pattern="^[ -~]+$",
            ),
            "userid": _str("The user the profile is for.", minLength=1, maxLength=255),
            "responsesignaturekey": _use("ResponseSignatureKey", "Default ATTESTATION."),
            "responseformat": _use("ResponseFormat", "Default jws."),
            "profile": _ref("ProvProfile"),
            "vscinfo": _ref("VscInfo"),
            "desktopExtensions": _list(
                "Desktop: stored, shown in the console and passed to the device.",
                _ref("DesktopExtension"),
            ),
            "desktopKeyProtectionLevel": _ref("KeyProtectionLevel"),
        },
        required=["nonce", "userid", "profile"],
        kept=True,
    ),
    "ProvProfile": _obj(
        "The profile to create.",
        {
            "servername": _str("A label the app shows.", minLength=1, maxLength=255),
            "name": _str("The profile's name in the app.", minLength=1, maxLength=255),
            "keygenrequests": _list(
                "The keys to generate; `keyid`s unique.",
                _ref("KeyGenRequest"),
                minItems=1,
                maxItems=8,
            ),
            "visualData": {
                "type": "object",
                "description": "Optional card images; passed to the device untouched. With "
                "`contentId` (recommended `PROV:<uuid>`) the server asks the client's content "
                "provider for the card layout first (docs/PROTOCOL.md §13): the device receives "
                '`visualData` with `data: [{"key": "front", "content_type", "content_encoding", '
                '"data"}, {"key": "back", ...}]` instead of the id; the stored command keeps it.',
                "properties": {
                    "contentId": _str("A content id the content provider resolves."),
                },
                "additionalProperties": True,
            },
        },
        required=["servername", "name", "keygenrequests"],
        kept=True,
    ),
    "KeyGenRequest": _obj(
        "One key to generate.",
        {
            "keyid": _str("Unique in the command.", minLength=1, maxLength=100),
            "usage": _ref("KeyUsage"),
            "keytypeprios": _list(
                "Acceptable key types, most preferred first.",
                _ref("KeyTypePrio"),
                minItems=1,
                maxItems=8,
            ),
            "storageprios": _list("Acceptable storages, most preferred first.", _ref("KeyStorage")),
            "keystate": _use("KeyState", "Default ACTIVE."),
            "certreq": _str(
                "Base64 DER PKCS#10 template: the right subject, a throw-away key. The device "
                "re-keys and re-signs it; one that does not parse answers 400 naming the key id.",
                format="byte",
            ),
        },
        required=["keyid", "usage", "keytypeprios", "certreq"],
        kept=True,
    ),
    "KeyTypePrio": _obj(
        "One acceptable key type.",
        {
            "keytype": _ref("KeyType"),
            "keylength": _number(
                "Bits: 2048, 3072 or 4096 for RSA; 256 or 384 for EC.", values=_KEY_LENGTHS
            ),
            "responsemechanism": _use(
                "ResponseMechanism", "Default RS256 for RSA; ES256/ES384 for EC (by curve)."
            ),
        },
        required=["keytype", "keylength"],
        kept=True,
    ),
    "VscInfo": _obj(
        "Desktop: the virtual smart card.",
        {
            "smartcardid": _SMARTCARD_ID,
            "adminkey": _str("48 lowercase hex characters.", pattern=_HEX48),
            "oldadminkey": _str("48 lowercase hex characters.", pattern=_HEX48),
        },
        kept=True,
    ),
    "DesktopExtension": _obj(
        "Desktop: one extension. Known keys: provisionreader (CreateTPM, FreeTPM or <n>TPM), "
        "singleprofile, deletedisabled, disableactivatebutton, disablepinresetbutton, "
        'hybridprofile ("true"/"false"), congratsmessage (text).',
        {
            "key": _str("The extension's name.", minLength=1, maxLength=100),
            "data": {"description": "The extension's value (usually a string)."},
        },
        required=["key"],
        kept=True,
    ),
    "CertCommand": _obj(
        "Install certificates into a profile (docs/PROTOCOL.md §5.2). Unknown members are kept.",
        {
            "profileid": _PROFILE_ID,
            "smartcardid": _SMARTCARD_ID,
            "certificates": _list(
                "The certificates to install.", _ref("CertificateItem"), minItems=1, maxItems=16
            ),
            "desktopKeyProtectionLevel": _ref("KeyProtectionLevel"),
        },
        required=["certificates"],
        kept=True,
    ),
    "CertificateItem": _obj(
        "One certificate for one key of the profile.",
        {
            "keyid": _str("A key of the profile.", minLength=1, maxLength=100),
            "keystate": _ref("KeyState"),
            "data": _str(
                "Base64 DER X.509 whose public key is that key's (else 400).", format="byte"
            ),
        },
        required=["keyid", "data"],
        kept=True,
    ),
    "AuthCommand": _obj(
        "Authentication request: a sign whose challenge the server may choose "
        "(docs/PROTOCOL.md §5.3). Unknown members are kept.",
        {"profileid": _PROFILE_ID, "params": _ref("AuthParams")},
        kept=True,
    ),
    "SignCommand": _obj(
        "Signing request (docs/PROTOCOL.md §5.3). Unknown members are kept.",
        {"profileid": _PROFILE_ID, "params": _ref("SignParams")},
        required=["params"],
        kept=True,
    ),
    "SignItem": _obj(
        "One item shown to the user (`description`) or signed (`tbs`).",
        {
            "key": _str("The item's name."),
            "description": _str("The label the app shows."),
            "content_type": _str(
                "The media type of the decoded data, e.g. text/plain; or "
                "`application/hermod+content-id`: `data` is then a content id (recommended "
                "`AUTH:<uuid>`) that the server resolves with the client's content provider "
                "before the device can fetch the message (docs/PROTOCOL.md §13). The device gets "
                "the provider's `data`, `content_type` and `content_encoding`; the stored command "
                "keeps the id."
            ),
            "content_encoding": _ref("ContentEncoding"),
            "data": _str(
                "Base64 data (required in a tbs item), or a content id (1 to 255 printable "
                "characters) for `application/hermod+content-id`."
            ),
            "visible": _flag("Whether the app shows the item."),
        },
        kept=True,
    ),
    "KeyFilter": _obj(
        "Selects the profile key that signs.",
        {
            "op": _ref("FilterOp"),
            "param": _ref("FilterParam"),
            "value": _str("The value compared, e.g. RSA.", maxLength=100),
        },
        kept=True,
    ),
    "PingCommand": _obj(
        "Ask for device and profile information (docs/PROTOCOL.md §5.4). Unknown members are kept.",
        {
            "deviceinfo": _flag("Whether the device reports its device info.", default=False),
            "profileinfo": _flag("Whether the device reports its profiles.", default=False),
            "profileid": _PROFILE_ID,
        },
        kept=True,
    ),
    "DeleteCommand": _obj(
        "Delete a profile's mailbox and, desktop, the profile (docs/PROTOCOL.md §5.4). Without "
        "`profileid` every box of the `@<userid>` in `to`. Unknown members are kept.",
        {
            "profileid": _PROFILE_ID,
            "vscinfo": _ref("VscInfo"),
            "confirmed": _flag(
                "true: the mailbox is deleted once the device answers OK; false: at once and "
                "nothing is sent.",
                default=True,
            ),
        },
        kept=True,
    ),
    "SpinCommand": _obj(
        "Desktop: start a PIN reset or admin-key change (docs/PROTOCOL.md §5.4). Unknown members "
        "are kept.",
        {
            "smartcardid": _SMARTCARD_ID,
            "profileid": _PROFILE_ID,
            "operation": _use("SpinOperation", "Default pinreset."),
            "driver": {
                "type": "object",
                "description": "Optional driver settings; passed to the device untouched.",
                "additionalProperties": True,
            },
        },
        kept=True,
    ),
    "EpinCommand": _obj(
        "Desktop: finish a PIN reset (docs/PROTOCOL.md §5.4). Unknown members are kept.",
        {
            "smartcardid": _SMARTCARD_ID,
            "profileid": _PROFILE_ID,
            "encryptednonce": _str(
                "The startpinreset answer's nonce encrypted with the admin key, in hex.",
                pattern="^([0-9a-fA-F]{2})+$",
                maxLength=8192,
            ),
            "newadminkey": _str("Optional: 48 lowercase hex characters.", pattern=_HEX48),
        },
        required=["encryptednonce"],
        kept=True,
    ),
    # --- result body (docs/PROTOCOL.md §4.2, §8) ---
    "Destination": _obj(
        "One box the command was delivered to.",
        {
            "to": _str("The address of `commandHeader.to` that named this box."),
            "bid": _uuid("The box."),
            "uri": _str(
                "Plug-out URI with this destination's one-time token: what a page links to or "
                "renders as a QR code."
            ),
            "appLink": _str(
                "Same-device link for a user on the phone itself: `personal://<public-url without "
                "https://>/<bid>/<mid>?title=&redirect=&token=<token>` (the scheme is "
                "HERMOD_APP_LINK_SCHEME for branded apps). Fill `title` (form-encoded, shown by "
                "the app while it works) and `redirect` (percent-encoded URL the app returns to)."
            ),
            "pid": _uuid("The profile, for a profile's box."),
            "mid": _uuid("The message."),
            "location": _str("The message URL: <public-url>/<bid>/<mid>.", format="uri"),
            "state": _ref("DestinationState"),
            "fetchedAt": _str(
                "When the app fetched the message; null until then.",
                format="date-time",
                nullable=True,
            ),
        },
        required=["to", "bid", "uri", "mid", "location"],
    ),
    "ResponseHeader": _obj(
        "The header of a device's answer.",
        {
            "inReplyTo": _str("The location of the message answered.", format="uri"),
            "status": {"type": "integer", "description": "200."},
        },
        required=["inReplyTo"],
        kept=True,
    ),
    "DeviceResponse": _obj(
        "A device's answer object (`provResponse` …).",
        {
            "code": _number(
                "0 success; 1 user declined, 2 no matching key, 3 not supported, 4 device error "
                "(non-zero ends the command FAILED).",
                minimum=0,
                maximum=99,
            ),
            "result": _obj(
                "What the device produced; absent for cert, delete and epin.",
                {
                    "contenttype": _str("jws, pkcs7, raw, xmldsig or json."),
                    "data": {
                        "description": "A compact JWS, base64 CMS, or JSON (text or object) for "
                        "ping and startpinreset (docs/PROTOCOL.md §6.1, §6.3)."
                    },
                },
                kept=True,
            ),
        },
        required=["code"],
        kept=True,
    ),
    "Failure": _obj(
        "Why the command did not complete.",
        {
            "code": _str("UPPER_SNAKE, e.g. DEVICE_DECLINED, NONCE_MISMATCH, EXPIRED, CANCELLED."),
            "message": _str("One sentence for a person."),
        },
        required=["code", "message"],
    ),
    "ProfileSummary": _obj(
        "The profile a completed provisioning created (all members), or the known profile "
        "whose key signed the answer to a profile-less `@tmp` sign/authenticate (`id`, "
        "`userid`, `name`, `servername`).",
        {
            "id": _uuid("The profile id."),
            "userid": _str("Its user."),
            "name": _str("Its name."),
            "servername": _str("Its server label."),
            "boxurl": _str("Its permanent box.", format="uri", nullable=True),
            "keys": _list(
                "Its keys.",
                _obj(
                    "One key.",
                    {
                        "keyid": _str("The key request's keyid."),
                        "usage": _ref("KeyUsage"),
                        "keytype": _ref("KeyType"),
                        "keylength": {"type": "integer", "description": "Bits."},
                        "certreq": _str("Base64 DER PKCS#10 signed by the new key.", format="byte"),
                    },
                    required=["keyid", "certreq"],
                ),
            ),
            "deviceinfo": {
                "type": "object",
                "description": "What the device reported (operatingsystem, name, model …): "
                "at most 32 members, keys of at most 64 characters, string values of at most "
                "1024 (numbers and booleans in their JSON spelling); other shapes answer 422 "
                "DEVICEINFO_INVALID.",
                "additionalProperties": True,
            },
        },
        required=["id", "userid"],
    ),
    "Signer": _obj(
        "The signer of the answer to a profile-less `@tmp` sign/authenticate: the certificate "
        "the answer carried (PKCS#7 signer certificate, JWS `x5c[0]`), whose key verified it.",
        {
            "certificate": _str("Base64 DER X.509.", format="byte"),
            "subject": _str("Its subject."),
            "issuer": _str("Its issuer."),
            "serialNumber": _str("Its serial number, decimal."),
            "sha256": _str("Hex SHA-256 of the DER."),
            "verified": {
                "type": "boolean",
                "description": "true: it chains to one of the group's trusted signer CAs. "
                "false: the group trusts none, so nobody vouches for it (a group that trusts "
                "some refuses a signer outside them: SIGNER_NOT_TRUSTED).",
            },
            "reason": _str('Why it is not verified: "unverified signer".'),
        },
        required=["certificate", "subject", "issuer", "verified"],
    ),
    "CertificateSummary": _obj(
        "A certificate the server obtained from the group's CA (docs/PROTOCOL.md §10).",
        {
            "keyid": _str("The key it certifies."),
            "data": _str("Base64 DER X.509.", format="byte"),
            "subject": _str("Its subject."),
            "issuer": _str("Its issuer."),
            "notAfter": _str("End of validity.", format="date-time"),
        },
        required=["keyid", "data"],
    ),
    # --- mailbox (docs/PROTOCOL.md §6) ---
    "MailboxEntry": _obj(
        "One message waiting in a box.",
        {
            "mid": _uuid("The message."),
            "location": _str("Its URL.", format="uri"),
            "commandType": _ref("CommandType"),
            "expires": _str("When it is withdrawn if not answered.", format="date-time"),
        },
        required=["mid", "location", "commandType", "expires"],
    ),
    "MessageHeader": _obj(
        "The envelope of a message.",
        {
            "mid": _uuid("The message."),
            "bid": _uuid("Its box."),
            "location": _str("Its URL; the answer's `responseHeader.inReplyTo`.", format="uri"),
            "commandId": _str("The command.", pattern="^[0-9]+$"),
            "commandType": _ref("CommandType"),
            "fqdn": _str("The server's host name."),
            "expires": _str("When the message is withdrawn.", format="date-time"),
        },
        required=["mid", "bid", "location", "commandId", "commandType", "fqdn", "expires"],
    ),
    "Assigned": _obj(
        "The profile id and permanent box the server proposes to a provisioning device.",
        {
            "profileid": _uuid("The profile id to use."),
            "boxurl": _str("The permanent box: <public-url>/<bid>.", format="uri"),
        },
        required=["profileid", "boxurl"],
    ),
}

_BODY_COMPONENT = {e.body_key: e.body_key[0].upper() + e.body_key[1:] for e in ENDPOINTS.values()}


def _params(*, tbs_required: bool) -> Schema:
    return _obj(
        "What to sign, how, and with which key."
        + ("" if tbs_required else " Without `tbs` the server adds a random 32-byte challenge."),
        {
            "description": _list("Items the app shows.", _ref("SignItem")),
            "tbs": _list("Items to be signed.", _ref("SignItem"), minItems=1),
            "filter": _ref("KeyFilter"),
            "format": _use("SignFormat", "Default jws."),
            "mechanism": _str("e.g. CKM_SHA256_RSA_PKCS.", maxLength=100),
        },
        required=["tbs"] if tbs_required else (),
        kept=True,
    )


COMPONENTS["SignParams"] = _params(tbs_required=True)
COMPONENTS["AuthParams"] = _params(tbs_required=False)


# --- documentation-only serializers ------------------------------------------------------------


class _Doc(serializers.Serializer):  # type: ignore[type-arg]
    """Stands for the component ``component`` in the document; never used on a request."""

    component = ""
    openapi: Schema = {}


def _doc(component: str, schema: Schema) -> type[_Doc]:
    return type(f"{component}Doc", (_Doc,), {"component": component, "openapi": schema})


def _refs(schema: Any) -> Iterator[str]:
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith(_REF_PREFIX):
            yield ref.removeprefix(_REF_PREFIX)
        for value in schema.values():
            yield from _refs(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from _refs(value)


class _DocExtension(OpenApiSerializerExtension):  # type: ignore[no-untyped-call]
    target_class = _Doc
    match_subclasses = True

    def get_name(self, auto_schema: Any, direction: Any) -> str:
        # drf-spectacular appends "Request" to request bodies (COMPONENT_SPLIT_REQUEST).
        return str(self.target.component)

    def map_serializer(self, auto_schema: Any, direction: Any) -> Schema:
        return copy.deepcopy(self.target.openapi)


# --- command requests: one row per endpoint of docs/PROTOCOL.md §4
# ----------------------------------

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
    return _obj(
        f"A {endpoint.command_type} command: `commandHeader` and `{endpoint.body_key}` "
        "(docs/PROTOCOL.md §4). Unknown members are ignored; another command's object answers 400.",
        {
            "commandHeader": _ref("CommandHeader"),
            endpoint.body_key: _ref(_BODY_COMPONENT[endpoint.body_key]),
        },
        required=[endpoint.body_key],
        kept=True,
    )


_REQUESTS = {
    name: _doc(component, _request_schema(ENDPOINTS[name]))
    for name, (component, _) in _COMMANDS.items()
}
COMMAND_DESCRIPTIONS = {
    name: f"{what} Body key `{e.body_key}`; the device answers with `{e.answer_key}`; the "
    f"result body is POSTed to `<callback-url>{e.callback_path}` when the command ends. "
    f"Also served as `/command/{name}`."
    for name, (_, what) in _COMMANDS.items()
    for e in [ENDPOINTS[name]]
}


def command_request(name: str) -> type[_Doc]:
    """The request body of ``POST /command/<name>``."""
    return _REQUESTS[name]


# --- examples ----------------------------------------------------------------------------------

_PUBLIC_URL = "https://hermod.example.com:20400/hermod/rest/ms"
_FQDN = "hermod.example.com"
_COMMAND_ID = 18092
_TMP_BOX = "99678846-836a-42f2-99e4-1de31bca857f"
_TMP_MID = "72aec710-9337-4903-8b2d-f756359b51c9"
_PROFILE = "3051e9f3-0e4d-436b-a512-2e18d8afe134"
_BOX = "d07292df-f75c-4534-8567-642953b6d887"
_MID = "071c4a7d-d064-470a-aaab-ec9e1b14c9f1"
_TOKEN = "2dff6242-34d8-4d31-8ac8-c53a21341a03"  # noqa: S105 — an example
_EXPIRES = "2025-06-02T10:05:00Z"
_ADMIN_KEY = "0123456789abcdef0123456789abcdef0123456789abcdef"


def _header(to: list[str] | None = None, seconds: int = 300) -> dict[str, Any]:
    header: dict[str, Any] = {"to": to} if to else {}
    return {**header, "lifespan": seconds, "timeout": seconds, "externalId": "my-id"}


_TO_USER = _header(["@userA"], 60)
_TO_PROFILE = _header([_PROFILE], 120)
_SIGN_PARAMS = {
    "description": [
        {
            "key": "requester",
            "description": "Signing request from",
            "content_type": "text/plain",
            "content_encoding": "base64",
            "data": "UGVyc29uYWw=",
            "visible": True,
        }
    ],
    "tbs": [
        {
            "key": "tbs",
            "description": "Text to sign",
            "content_type": "text/plain",
            "content_encoding": "base64",
            "data": "VHJhbnNmZXIgNTAwIEVVUiB0byBBQ01F",
            "visible": True,
        }
    ],
    "filter": {"op": "eq", "param": "key.type", "value": "RSA"},
    "format": "jws",
    "mechanism": "CKM_SHA256_RSA_PKCS",
}

# Further request examples per endpoint: (title, body).
MORE_REQUEST_EXAMPLES: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "authenticate": [
        (
            "To one profile of the user",
            {
                "commandHeader": _TO_PROFILE,
                "authCommand": {
                    "profileid": _PROFILE,
                    "params": {
                        "description": _SIGN_PARAMS["description"],
                        "filter": {"op": "eq", "param": "key.usage", "value": "AUTH"},
                        "format": "jws",
                    },
                },
            },
        ),
        (
            "Auth image from the content provider",
            {
                "commandHeader": _header([_PROFILE], 120),
                "authCommand": {
                    "profileid": _PROFILE,
                    "params": {
                        "description": [
                            {
                                "key": "picture",
                                "description": "Is this your login picture?",
                                "content_type": "application/hermod+content-id",
                                "data": "AUTH:6f1c2a52-8f0e-4a8e-9d3c-2b7e0c1d4f5a",
                                "visible": True,
                            }
                        ],
                        "format": "jws",
                    },
                },
            },
        ),
    ],
}

REQUEST_EXAMPLES: dict[str, dict[str, Any]] = {
    # shared/seeds/001, exactly as the product documentation prints it.
    "provision": {
        "commandHeader": _header(),
        "provCommand": {
            "nonce": "123456789",
            "userid": "userA",
            "responsesignaturekey": "ATTESTATION",
            "responseformat": "jws",
            "profile": {
                "servername": "nexus-cod1",
                "name": "TestProfile",
                "keygenrequests": [
                    {
                        "keyid": "signer",
                        "usage": "SIG",
                        "keytypeprios": [
                            {"keytype": "RSA", "keylength": "2048", "responsemechanism": "RS256"}
                        ],
                        "storageprios": ["APP"],
                        "keystate": "ACTIVE",
                        "certreq": SEED_DUMMY_CSR_B64,
                    }
                ],
            },
        },
    },
    # shared/seeds/001 as well.
    "certificate": {
        "commandHeader": _TO_USER,
        "certCommand": {
            "profileid": _PROFILE,
            "certificates": [
                {"keyid": "signer", "keystate": "ACTIVE", "data": SEED_CERTIFICATE_B64}
            ],
        },
    },
    # Addressed to a user (`@<userid>`): every active profile of userA in the client's group gets
    # it, and the first valid answer wins (docs/PROTOCOL.md §4.1); integrators rarely know the
    # profile id.
    "authenticate": {
        "commandHeader": _TO_USER,
        "authCommand": {
            "params": {
                "description": _SIGN_PARAMS["description"],
                "filter": {"op": "eq", "param": "key.usage", "value": "AUTH"},
                "format": "jws",
            },
        },
    },
    # docs/PROTOCOL.md §5.3.
    "sign": {
        "commandHeader": _TO_USER,
        "signCommand": {"params": _SIGN_PARAMS},
    },
    "ping": {
        "commandHeader": _TO_USER,
        "pingCommand": {"deviceinfo": "true", "profileinfo": "true"},
    },
    # Without profileid: every box of the user (docs/PROTOCOL.md §5.4).
    "delete": {
        "commandHeader": _TO_USER,
        "deleteCommand": {"confirmed": "true"},
    },
    "startpinreset": {
        "commandHeader": _TO_PROFILE,
        "spinCommand": {"profileid": _PROFILE, "smartcardid": "VSC-01", "operation": "pinreset"},
    },
    "endpinreset": {
        "commandHeader": _TO_PROFILE,
        "epinCommand": {
            "profileid": _PROFILE,
            "smartcardid": "VSC-01",
            "encryptednonce": "8f3a5c7e9b1d2f4a6c8e0b2d4f6a8c0e",
            "newadminkey": _ADMIN_KEY,
        },
    },
}

_TMP_LOCATION = message_location(_PUBLIC_URL, _TMP_BOX, _TMP_MID)

ANSWER_EXAMPLE: dict[str, Any] = {
    "responseHeader": {"inReplyTo": _TMP_LOCATION, "status": 200},
    "provResponse": {
        "code": 0,
        "result": {"contenttype": "jws", "data": "<compact JWS of docs/PROTOCOL.md §6.1>"},
    },
}


_DESTINATION_STATES = {
    State.IN_PROGRESS: "WAITING",
    State.COMPLETED: "ANSWERED",
    State.FAILED: "ANSWERED",
    State.EXPIRED: "EXPIRED",
    State.CANCELLED: "WITHDRAWN",
}
_FETCHED_AT = datetime(2025, 6, 2, 10, 0, 12, tzinfo=UTC)


def _destination(
    endpoint: Endpoint, state: State = State.IN_PROGRESS, *, tmp: bool = False
) -> DestinationView:
    if endpoint.command_type is CommandType.PROV or tmp:
        to, bid, mid, pid = TMP, _TMP_BOX, _TMP_MID, None
    else:
        to, bid, mid, pid = "@userA", _BOX, _MID, _PROFILE
    fetched = state in (State.COMPLETED, State.FAILED)
    location = message_location(_PUBLIC_URL, bid, mid)
    return DestinationView(
        to=to,
        bid=bid,
        mid=mid,
        uri=plugout_uri(box_url(_PUBLIC_URL, bid), _TOKEN),
        location=location,
        pid=pid,
        state=_DESTINATION_STATES[state],
        fetched_at=_FETCHED_AT if fetched else None,
        applink=app_link(APP_LINK_SCHEME, location, _TOKEN),
    )


def _result(endpoint: Endpoint, state: State, *, tmp: bool = False, **view: Any) -> dict[str, Any]:
    return result_body(
        ResultView(
            command_id=_COMMAND_ID,
            external_id="my-id",
            command_type=endpoint.command_type.value,
            state=state.value,
            fqdn=_FQDN,
            destinations=(_destination(endpoint, state, tmp=tmp),),
            answer_key=endpoint.answer_key,
            **view,
        )
    )


def result_example(endpoint: Endpoint) -> dict[str, Any]:
    """The synchronous answer to a new command of this endpoint (docs/PROTOCOL.md §4.2)."""
    return _result(endpoint, State.IN_PROGRESS)


_PROV, _SIGN = ENDPOINTS["provision"], ENDPOINTS["sign"]
_RESULT_EXAMPLES = [
    OpenApiExample(
        "Completed provisioning",
        value=_result(
            _PROV,
            State.COMPLETED,
            answer=ANSWER_EXAMPLE,
            profile={
                "id": _PROFILE,
                "userid": "userA",
                "name": "TestProfile",
                "servername": "nexus-cod1",
                "boxurl": box_url(_PUBLIC_URL, _BOX),
                "keys": [
                    {
                        "keyid": "signer",
                        "usage": "SIG",
                        "keytype": "RSA",
                        "keylength": 2048,
                        "certreq": "<base64 DER PKCS#10 signed by the new key>",
                    }
                ],
                "deviceinfo": {
                    "operatingsystem": "Android 14",
                    "name": "Pixel",
                    "model": "Pixel 8",
                },
            },
        ),
    ),
    OpenApiExample(
        "Signed from a desktop app through @tmp, without profile",
        value=_result(
            _SIGN,
            State.COMPLETED,
            tmp=True,
            answer={
                "responseHeader": {"inReplyTo": _TMP_LOCATION, "status": 200},
                "signResponse": {
                    "code": 0,
                    "result": {"contenttype": "pkcs7", "data": "<base64 DER CMS SignedData>"},
                },
            },
            signature={
                "verification": "VERIFIED",
                "signer": {
                    "certificate": SEED_CERTIFICATE_B64,
                    "subject": "CN=Anders Wallbom,OU=Personal Mobile,O=Nexus Group AB,L=Sto,C=SE",
                    "issuer": "CN=hermod-testapp,OU=Personal Mobile,O=Nexus,C=SE",
                    "serialNumber": "1523534036258",
                    "sha256": "<hex SHA-256 of the certificate>",
                    "verified": False,
                    "reason": "unverified signer",
                },
                "profile": {
                    "id": _PROFILE,
                    "userid": "userA",
                    "name": "TestProfile",
                    "servername": "nexus-cod1",
                },
            },
        ),
    ),
    OpenApiExample(
        "Raw PKCS#1 signature",
        value=_result(
            _SIGN,
            State.COMPLETED,
            answer={
                "responseHeader": {"inReplyTo": message_location(_PUBLIC_URL, _BOX, _MID)},
                "signResponse": {
                    "code": 0,
                    "result": {"contenttype": "raw", "data": "<base64 RSASSA-PKCS1-v1_5>"},
                },
            },
            signature={"verification": "VERIFIED", "format": "raw"},
        ),
    ),
    OpenApiExample(
        "XML signature, not verified by the server",
        value=_result(
            _SIGN,
            State.COMPLETED,
            answer={
                "responseHeader": {"inReplyTo": message_location(_PUBLIC_URL, _BOX, _MID)},
                "signResponse": {
                    "code": 0,
                    "result": {"contenttype": "xmldsig", "data": "<base64 XML Signature>"},
                },
            },
            signature={"verification": "NOT_VERIFIED_BY_SERVER", "format": "xmldsig"},
        ),
    ),
    OpenApiExample(
        "Declined on the device",
        value=_result(
            _SIGN,
            State.FAILED,
            answer={
                "responseHeader": {"inReplyTo": message_location(_PUBLIC_URL, _BOX, _MID)},
                "signResponse": {"code": 1},
            },
            failure={"code": DEVICE_CODES[1][0], "message": DEVICE_CODES[1][1]},
        ),
    ),
    OpenApiExample(
        "Expired",
        value=_result(
            _SIGN,
            State.EXPIRED,
            failure={"code": "EXPIRED", "message": "No valid answer before the timeout."},
        ),
    ),
]
_CANCELLED_EXAMPLE = OpenApiExample(
    "Cancelled",
    value=_result(
        _SIGN, State.CANCELLED, failure={"code": "CANCELLED", "message": "Cancelled by the client."}
    ),
)
_BOX_EXAMPLE = {
    "bid": _BOX,
    "messages": [
        {
            "mid": _MID,
            "location": message_location(_PUBLIC_URL, _BOX, _MID),
            "commandType": "SIGN",
            "expires": _EXPIRES,
        }
    ],
}
_MESSAGE_EXAMPLE = {
    "messageHeader": {
        "mid": _TMP_MID,
        "bid": _TMP_BOX,
        "location": _TMP_LOCATION,
        "commandId": str(_COMMAND_ID),
        "commandType": "PROV",
        "fqdn": _FQDN,
        "expires": _EXPIRES,
    },
    "provCommand": REQUEST_EXAMPLES["provision"]["provCommand"],
    "assigned": {
        "profileid": _PROFILE,
        "boxurl": box_url(_PUBLIC_URL, _BOX),
    },
}
_BOX_TOKEN_EXAMPLE = "Zk3q9cV1m2yB7xT0rWn4hJ8sL6pD5aE2uG1iO3kN9fQ"  # noqa: S105 (an example)

# --- responses ---------------------------------------------------------------------------------

_ERROR = _doc(
    "Error",
    _obj(
        "Every error (docs/PROTOCOL.md §12). No stack trace, SQL or internal path.",
        {
            "error": _obj(
                "What went wrong.",
                {
                    "code": _str(
                        "Stable, UPPER_SNAKE; clients may branch on it.",
                        pattern="^[A-Z][A-Z0-9_]*$",
                    ),
                    "message": _str("One sentence for a person."),
                    "field": _str(
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
    f"No command {_COMMAND_ID} for this client.",
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

_RESULT = _doc(
    "CommandResult",
    _obj(
        "The result body (docs/PROTOCOL.md §4.2, §8): the synchronous answer, the poll answer and "
        "the callback body. Once the device answered it carries the device's `responseHeader` and "
        "answer object unchanged; a completed provisioning adds `profile` (and `certificates` "
        "when the group's CA issued them).",
        {
            "responseHeader": _use("ResponseHeader", "The device's answer header."),
            **{
                e.answer_key: _use(
                    "DeviceResponse", f"The device's answer to a {e.command_type} command."
                )
                for e in ENDPOINTS.values()
            },
            "commandId": _str("The command (a number sent as a string).", pattern="^[0-9]+$"),
            "externalId": _str("The client's `commandHeader.externalId`, when it sent one."),
            "destinations": _list("One per box the command was delivered to.", _ref("Destination")),
            "commandType": _ref("CommandType"),
            "state": _ref("CommandState"),
            "fqdn": _str("The host name of the server's public URL."),
            "failure": _use("Failure", "Why the command ended FAILED, EXPIRED or CANCELLED."),
            "profile": _use(
                "ProfileSummary",
                "After a completed provisioning; after a profile-less `@tmp` sign/authenticate "
                "whose signing key is an active key of a profile of the group.",
            ),
            "verification": _use(
                "Verification", "Auth/sign, once an answer was accepted: how far it was checked."
            ),
            "signer": _use("Signer", "Auth/sign sent to `@tmp` without a profile, once answered."),
            "certificates": _list(
                "Certificates the group's CA issued for the new keys.", _ref("CertificateSummary")
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
        _RESULT, description="The command as it is now.", examples=_RESULT_EXAMPLES
    ),
    401: _UNAUTHORIZED,
    404: _NO_COMMAND,
    429: _RATE_LIMITED,
    **_SERVER_ERRORS,
}
CANCEL_RESPONSES = {
    200: OpenApiResponse(
        _RESULT, description="Cancelled: its messages are withdrawn.", examples=[_CANCELLED_EXAMPLE]
    ),
    401: _UNAUTHORIZED,
    404: _NO_COMMAND,
    409: _error("The command is already final.", "COMMAND_FINAL", "The command is already final."),
    429: _RATE_LIMITED,
    **_SERVER_ERRORS,
}

_MAILBOX_AUTH = (
    " The box opens with its destination's one-time token (from the plug-out URI) or, for a "
    "profile's permanent box, its box token: `Authorization: Bearer <token>` or `?token=`. "
    "Also served as `/ms/...`."
)
BOX_RESPONSES = {
    200: OpenApiResponse(
        _doc(
            "MailboxListing",
            _obj(
                "The messages waiting in a box, oldest first: not yet answered, not expired.",
                {
                    "bid": _uuid("The box."),
                    "messages": _list("Oldest first.", _ref("MailboxEntry")),
                },
                required=["bid", "messages"],
            ),
        ),
        description=f"The waiting messages.{_MAILBOX_AUTH}",
        examples=[OpenApiExample("A waiting sign request", value=_BOX_EXAMPLE)],
    ),
    404: _NO_BOX,
    429: _RATE_LIMITED,
    **_SERVER_ERRORS,
}
MESSAGE_RESPONSES = {
    200: OpenApiResponse(
        _doc(
            "Message",
            _obj(
                "One message: its header and the command object exactly as the client sent it "
                "(exactly one of the `*Command` members). Fetching marks it FETCHED.",
                {
                    "messageHeader": _ref("MessageHeader"),
                    **{e.body_key: _ref(_BODY_COMPONENT[e.body_key]) for e in ENDPOINTS.values()},
                    "assigned": _use(
                        "Assigned", "Provisioning only: the profile id and box to use."
                    ),
                },
                required=["messageHeader"],
            ),
        ),
        description=f"The message.{_MAILBOX_AUTH}",
        examples=[OpenApiExample("A provisioning message", value=_MESSAGE_EXAMPLE)],
    ),
    404: _NO_BOX,
    429: _RATE_LIMITED,
    **_SERVER_ERRORS,
}

ANSWER_REQUEST = _doc(
    "Answer",
    _obj(
        "A device's answer (docs/PROTOCOL.md §6): `responseHeader` and the answer object of the "
        "message's command type (`provResponse` for a provisioning message …).",
        {
            "responseHeader": _ref("ResponseHeader"),
            **{
                e.answer_key: _use("DeviceResponse", f"The answer to a {e.command_type} message.")
                for e in ENDPOINTS.values()
            },
        },
        required=["responseHeader"],
        kept=True,
    ),
)
ANSWER_RESPONSES = {
    200: OpenApiResponse(
        _doc(
            "AnswerResult",
            _obj(
                "How the command ended.",
                {
                    "state": _ref("AnswerState"),
                    "boxtoken": _str(
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
                value={"state": "COMPLETED", "boxtoken": _BOX_TOKEN_EXAMPLE},
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
        _doc(
            "BoxToken",
            _obj(
                "The box's new token; the one presented no longer opens the box.",
                {"boxtoken": _str("The secret that opens the permanent box from now on.")},
                required=["boxtoken"],
            ),
        ),
        description="Rotated.",
        examples=[OpenApiExample("Rotated", value={"boxtoken": _BOX_TOKEN_EXAMPLE})],
    ),
    404: _NO_BOX,
    429: _RATE_LIMITED,
    **_SERVER_ERRORS,
}


# --- push registration (docs/PROTOCOL.md §14, docs/push.md) ------------------------------------

COMPONENTS["PushProvider"] = _enum(
    "relay (the group's notification server), webpush (Web Push / UnifiedPush), fcm, apns.",
    ["relay", "webpush", "fcm", "apns"],
)
_P256DH_EXAMPLE = (
    "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM"
)
PUSH_REQUEST = _doc(
    "PushRegistration",
    _obj(
        "Where the device wants to be woken when a message waits in its box. A new registration "
        "replaces the previous one.",
        {
            "provider": _use(
                "PushProvider", "The push provider; the group must have it configured."
            ),
            "token": _str(
                "The app's address at the provider: the device token (`relay`), the FCM "
                "registration token, the APNs device token in hex, or the Web Push endpoint "
                "URL (`webpush`).",
                maxLength=4096,
            ),
            "os": _str(
                "The device's OS (`ios`, `android`, `linux` …).", pattern="^[A-Za-z0-9._-]{1,20}$"
            ),
            "p256dh": _str(
                "`webpush` only: the subscription's P-256 public key, base64url (RFC 8291)."
            ),
            "auth": _str("`webpush` only: the subscription's 16-byte auth secret, base64url."),
        },
        required=["provider", "token", "os"],
    ),
)
_PUSH_EXAMPLE = {
    "provider": "webpush",
    "os": "android",
    "fingerprint": "3f9a0c51d2e4",
    "updated": _EXPIRES,
    "vapidPublicKey": _P256DH_EXAMPLE,
}
PUSH_RESPONSES = {
    200: OpenApiResponse(
        _doc(
            "PushRegistered",
            _obj(
                "The registration as kept (the token itself is never shown back).",
                {
                    "provider": _ref("PushProvider"),
                    "os": _str("The OS, lower case."),
                    "fingerprint": _str("Tells two registered tokens apart (a keyed hash)."),
                    "updated": _str("When it was registered.", format="date-time"),
                    "vapidPublicKey": _str(
                        "`webpush` only: the group's VAPID public key (applicationServerKey)."
                    ),
                },
                required=["provider", "os", "fingerprint", "updated"],
            ),
        ),
        description="Registered; messages queued from now on wake the device.",
        examples=[OpenApiExample("Web Push", value=_PUSH_EXAMPLE)],
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
    404: _NO_BOX,
    429: _RATE_LIMITED,
    **_SERVER_ERRORS,
}

# --- the CA's challenge check (docs/PROTOCOL.md §10)
# -------------------------------------------------

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
COMPONENTS["ChallengeVerdict"] = _enum("Always ACCEPTED (a refusal is an error).", ["ACCEPTED"])
CA_VERIFY_REQUEST = _doc(
    "ChallengeVerification",
    _obj(
        "The CSR the CA received, or the challenge alone (at least one).",
        {
            "csr": _str(
                "The CSR (base64 DER PKCS#10, as the CA received it); its challengePassword "
                "is the challenge.",
                maxLength=65536,
            ),
            "challenge": _str(
                "The challenge alone, for a CA that cannot pass the CSR; with `csr` it must "
                "equal the CSR's challengePassword.",
                maxLength=255,
            ),
        },
    )
    | {"anyOf": [{"required": ["csr"]}, {"required": ["challenge"]}]},
)
CA_VERIFY_EXAMPLE = {"csr": SEED_DUMMY_CSR_B64}
CA_VERIFY_RESPONSES = {
    200: OpenApiResponse(
        _doc(
            "ChallengeAccepted",
            _obj(
                "The CA may issue: the challenge is consumed by (bound to) this request's key.",
                {
                    "state": _ref("ChallengeVerdict"),
                    "commandId": _str("The provisioning command.", pattern="^[0-9]+$"),
                    "keyid": _str("The key request the template belonged to."),
                },
                required=["state", "commandId", "keyid"],
            ),
        ),
        description="Accepted: the CA may issue the certificate.",
        examples=[
            OpenApiExample(
                "Accepted",
                value={"state": "ACCEPTED", "commandId": str(_COMMAND_ID), "keyid": "signer"},
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


# --- document-wide -----------------------------------------------------------------------------

_PREFIX = f"/{settings.HERMOD_API_PREFIX}" if settings.HERMOD_API_PREFIX else ""


def hide_path_aliases(endpoints: list[tuple[str, str, str, Any]], **kwargs: Any) -> list[Any]:
    """drf-spectacular PREPROCESSING_HOOKS entry: document each view once, under the prefix.

    The unprefixed ``/command/...``, ``/ms/...``, ``/ca/...`` and ``/util/...`` routes
    (docs/PROTOCOL.md §2) serve
    the same views; listed twice they would double every operation and clash on operationId.
    The operations' descriptions mention the alias instead.
    """
    if not _PREFIX:
        return endpoints
    served = {(path, method) for path, _, method, _ in endpoints}
    return [e for e in endpoints if (f"{_PREFIX}{e[0]}", e[2]) not in served]


def add_components(result: Schema, **kwargs: Any) -> Schema:
    """drf-spectacular POSTPROCESSING_HOOKS entry: add every ``COMPONENTS`` schema the document
    refers to, and those they refer to, once; components stay sorted by name as drf-spectacular
    sorts its own. Listed after drf-spectacular's enum hook, which rebuilds the components from
    its registry. Copies, so that nothing done to the document reaches ``COMPONENTS``.
    """
    schemas: Schema = result.setdefault("components", {}).setdefault("schemas", {})
    pending = list(_refs(result))
    while pending:
        name = pending.pop()
        if name not in schemas and name in COMPONENTS:
            schemas[name] = copy.deepcopy(COMPONENTS[name])
            pending.extend(_refs(COMPONENTS[name]))
    result["components"]["schemas"] = dict(sorted(schemas.items()))
    return result


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
