"""``COMPONENTS``: the named schemas of the wire formats (docs/PROTOCOL.md), each described
once. The document refers to them as ``#/components/schemas/<name>``; the post-processing hook
``hooks.add_components`` adds those it refers to."""

from hermod_core.api.schema.blocks import (
    Schema,
    array,
    enum,
    flag,
    number,
    obj,
    ref,
    string,
    use,
    uuid,
)
from hermod_core.lifecycle import State
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
    USAGES,
    CommandType,
)

_HEX48 = "^[0-9a-f]{48}$"
_MECHANISMS = [*MECHANISMS["RSA"], *MECHANISMS["EC"]]
_KEY_LENGTHS = sorted({n for sizes in KEY_SIZES.values() for n in sizes})
_PROFILE_ID = uuid(
    "The profile the command is for. Required unless `commandHeader.to` names the box "
    "(a profile id or `@<userid>`), a `smartcardid` names it (certificate, startpinreset, "
    "endpinreset, delete), or the command is a sign, authenticate or startpinreset sent to "
    "`@tmp` for whichever desktop app opens the link."
)
_SMARTCARD_ID = string(
    "Desktop: the virtual smart card (profile) in the desktop app. Without `profileid` it "
    "addresses the group's active profile provisioned with this smart-card id (its newest, if "
    "there are several); none answers 404 SMARTCARD_NOT_FOUND naming this field."
)


COMPONENTS: dict[str, Schema] = {
    # Vocabulary (docs/PROTOCOL.md §4, §5, §7): named so that generated clients share one type each.
    "CommandType": enum("The type of a command (docs/PROTOCOL.md §4).", CommandType),
    "CommandState": enum(
        "IN_PROGRESS until the command ends in one of the final states (docs/PROTOCOL.md §7).",
        State,
    ),
    "KeyUsage": enum("What a key is for.", USAGES),
    "KeyType": enum("The key algorithm.", KEY_SIZES),
    "ResponseMechanism": enum(
        "The signature algorithm of the signed key; an EC key's follows its curve size.",
        _MECHANISMS,
    ),
    "KeyStorage": enum("Where the device may keep the key, in order of preference.", STORAGES),
    "KeyState": enum("The state the key is created or installed in.", KEYSTATES),
    "KeyProtectionLevel": enum(
        "Desktop: how the key is protected; stored and passed to the device.", PROTECTION_LEVELS
    ),
    "ResponseSignatureKey": enum(
        "The key that signs the provisioning answer: the app's attestation key.", ["ATTESTATION"]
    ),
    "ResponseFormat": enum("The format of the provisioning answer.", ["jws"]),
    "SignFormat": enum(
        "Matched without regard to case. jws: a compact JWS (verified); pkcs7: base64 DER CMS "
        "SignedData (verified); raw (also pkcs1): base64 RSASSA-PKCS1-v1_5 signature over the "
        "concatenated tbs data, hashed per `mechanism` (CKM_SHA256_RSA_PKCS default, "
        "CKM_SHA384_RSA_PKCS, CKM_SHA512_RSA_PKCS; verified; needs a profile); xmldsig: base64 "
        "XML Signature document, passed through and recorded NOT_VERIFIED_BY_SERVER.",
        [*SIGN_FORMATS, *(f.upper() for f in SIGN_FORMATS)],
    ),
    "DestinationState": enum(
        "A destination's progress (docs/PROTOCOL.md §7): WAITING (not opened yet), FETCHED "
        "(the app has the message), ANSWERED, WITHDRAWN (another destination answered, the command "
        "ended, or its lifespan passed unopened), EXPIRED.",
        ["WAITING", "FETCHED", "ANSWERED", "WITHDRAWN", "EXPIRED"],
    ),
    "Verification": enum(
        "What the server established of an accepted auth/sign answer: VERIFIED (signature and "
        "binding to the command checked), NOT_VERIFIED_BY_SERVER (xmldsig: passed through).",
        ["VERIFIED", "NOT_VERIFIED_BY_SERVER"],
    ),
    "FilterOp": enum("The comparison.", ["eq"]),
    "FilterParam": enum("The key attribute compared.", FILTER_PARAMS),
    "ContentEncoding": enum("How `data` is encoded.", ["base64"]),
    "SpinOperation": enum("What the desktop app resets or changes.", SPIN_OPERATIONS),
    "AnswerState": enum(
        "COMPLETED when the answer was valid; FAILED when the device refused or failed "
        "(non-zero code).",
        [State.COMPLETED, State.FAILED],
    ),
    # --- command requests (docs/PROTOCOL.md §4.1, §5) ---
    "CommandHeader": obj(
        "Where the command goes and how long it lives (docs/PROTOCOL.md §4.1). "
        "Optional as a whole.",
        {
            "to": array(
                'Addresses: "@tmp" (a new temporary box), "@<userid>" (every active profile of '
                "the user in the client's group) or a profile id. Provision takes only "
                '["@tmp"] (its default); other commands default to the profile named by '
                "`profileid`. An address that resolves to no box answers 404.",
                string("One address."),
                minItems=1,
                maxItems=100,
            ),
            "lifespan": number(
                "Seconds the message stays fetchable in the box.",
                minimum=1,
                maximum=MAX_SECONDS,
                default=DEFAULT_SECONDS,
            ),
            "timeout": number(
                "Seconds from creation until the command expires without a valid answer; at "
                "least `lifespan`.",
                minimum=1,
                maximum=MAX_SECONDS,
                default=DEFAULT_SECONDS,
            ),
            "externalId": string(
                "The client's correlation id, echoed in every response, poll and callback.",
                maxLength=255,
            ),
        },
        kept=True,
    ),
    "ProvCommand": obj(
        "Provision a profile and generate its keys on a device (docs/PROTOCOL.md §5.1). Unknown "
        "members are kept and passed to the device unchanged.",
        {
            "nonce": string(
                "The device signs it back in its answer.",
                minLength=1,
                maxLength=128,
                pattern="^[ -~]+$",
            ),
            "userid": string("The user the profile is for.", minLength=1, maxLength=255),
            "responsesignaturekey": use("ResponseSignatureKey", "Default ATTESTATION."),
            "responseformat": use("ResponseFormat", "Default jws."),
            "profile": ref("ProvProfile"),
            "vscinfo": ref("VscInfo"),
            "desktopExtensions": array(
                "Desktop: stored, shown in the console and passed to the device.",
                ref("DesktopExtension"),
            ),
            "desktopKeyProtectionLevel": ref("KeyProtectionLevel"),
        },
        required=["nonce", "userid", "profile"],
        kept=True,
    ),
    "ProvProfile": obj(
        "The profile to create.",
        {
            "servername": string("A label the app shows.", minLength=1, maxLength=255),
            "name": string("The profile's name in the app.", minLength=1, maxLength=255),
            "keygenrequests": array(
                "The keys to generate; `keyid`s unique.",
                ref("KeyGenRequest"),
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
                    "contentId": string("A content id the content provider resolves."),
                },
                "additionalProperties": True,
            },
        },
        required=["servername", "name", "keygenrequests"],
        kept=True,
    ),
    "KeyGenRequest": obj(
        "One key to generate.",
        {
            "keyid": string("Unique in the command.", minLength=1, maxLength=100),
            "usage": ref("KeyUsage"),
            "keytypeprios": array(
                "Acceptable key types, most preferred first.",
                ref("KeyTypePrio"),
                minItems=1,
                maxItems=8,
            ),
            "storageprios": array("Acceptable storages, most preferred first.", ref("KeyStorage")),
            "keystate": use("KeyState", "Default ACTIVE."),
            "certreq": string(
                "Base64 DER PKCS#10 template: the right subject, a throw-away key. The device "
                "re-keys and re-signs it; one that does not parse answers 400 naming the key id.",
                format="byte",
            ),
        },
        required=["keyid", "usage", "keytypeprios", "certreq"],
        kept=True,
    ),
    "KeyTypePrio": obj(
        "One acceptable key type.",
        {
            "keytype": ref("KeyType"),
            "keylength": number(
                "Bits: 2048, 3072 or 4096 for RSA; 256 or 384 for EC.", values=_KEY_LENGTHS
            ),
            "responsemechanism": use(
                "ResponseMechanism", "Default RS256 for RSA; ES256/ES384 for EC (by curve)."
            ),
        },
        required=["keytype", "keylength"],
        kept=True,
    ),
    "VscInfo": obj(
        "Desktop: the virtual smart card.",
        {
            "smartcardid": _SMARTCARD_ID,
            "adminkey": string("48 lowercase hex characters.", pattern=_HEX48),
            "oldadminkey": string("48 lowercase hex characters.", pattern=_HEX48),
        },
        kept=True,
    ),
    "DesktopExtension": obj(
        "Desktop: one extension. Known keys: provisionreader (CreateTPM, FreeTPM or <n>TPM), "
        "singleprofile, deletedisabled, disableactivatebutton, disablepinresetbutton, "
        'hybridprofile ("true"/"false"), congratsmessage (text).',
        {
            "key": string("The extension's name.", minLength=1, maxLength=100),
            "data": {"description": "The extension's value (usually a string)."},
        },
        required=["key"],
        kept=True,
    ),
    "CertCommand": obj(
        "Install certificates into a profile (docs/PROTOCOL.md §5.2). Unknown members are kept.",
        {
            "profileid": _PROFILE_ID,
            "smartcardid": _SMARTCARD_ID,
            "certificates": array(
                "The certificates to install.", ref("CertificateItem"), minItems=1, maxItems=16
            ),
            "desktopKeyProtectionLevel": ref("KeyProtectionLevel"),
        },
        required=["certificates"],
        kept=True,
    ),
    "CertificateItem": obj(
        "One certificate for one key of the profile.",
        {
            "keyid": string("A key of the profile.", minLength=1, maxLength=100),
            "keystate": ref("KeyState"),
            "data": string(
                "Base64 DER X.509 whose public key is that key's (else 400).", format="byte"
            ),
        },
        required=["keyid", "data"],
        kept=True,
    ),
    "AuthCommand": obj(
        "Authentication request: a sign whose challenge the server may choose "
        "(docs/PROTOCOL.md §5.3). Unknown members are kept.",
        {"profileid": _PROFILE_ID, "params": ref("AuthParams")},
        kept=True,
    ),
    "SignCommand": obj(
        "Signing request (docs/PROTOCOL.md §5.3). Unknown members are kept.",
        {"profileid": _PROFILE_ID, "params": ref("SignParams")},
        required=["params"],
        kept=True,
    ),
    "SignItem": obj(
        "One item shown to the user (`description`) or signed (`tbs`).",
        {
            "key": string("The item's name."),
            "description": string("The label the app shows."),
            "content_type": string(
                "The media type of the decoded data, e.g. text/plain; or "
                "`application/hermod+content-id`: `data` is then a content id (recommended "
                "`AUTH:<uuid>`) that the server resolves with the client's content provider "
                "before the device can fetch the message (docs/PROTOCOL.md §13). The device gets "
                "the provider's `data`, `content_type` and `content_encoding`; the stored command "
                "keeps the id."
            ),
            "content_encoding": ref("ContentEncoding"),
            "data": string(
                "Base64 data (required in a tbs item), or a content id (1 to 255 printable "
                "characters) for `application/hermod+content-id`."
            ),
            "visible": flag("Whether the app shows the item."),
        },
        kept=True,
    ),
    "KeyFilter": obj(
        "Selects the profile key that signs.",
        {
            "op": ref("FilterOp"),
            "param": ref("FilterParam"),
            "value": string("The value compared, e.g. RSA.", maxLength=100),
        },
        kept=True,
    ),
    "PingCommand": obj(
        "Ask for device and profile information (docs/PROTOCOL.md §5.4). Unknown members are kept.",
        {
            "deviceinfo": flag("Whether the device reports its device info.", default=False),
            "profileinfo": flag("Whether the device reports its profiles.", default=False),
            "profileid": _PROFILE_ID,
        },
        kept=True,
    ),
    "DeleteCommand": obj(
        "Delete a profile's mailbox and, desktop, the profile (docs/PROTOCOL.md §5.4). Without "
        "`profileid` every box of the `@<userid>` in `to`. Unknown members are kept.",
        {
            "profileid": _PROFILE_ID,
            "vscinfo": ref("VscInfo"),
            "confirmed": flag(
                "true: the mailbox is deleted once the device answers OK; false: at once and "
                "nothing is sent.",
                default=True,
            ),
        },
        kept=True,
    ),
    "SpinCommand": obj(
        "Desktop: start a PIN reset or admin-key change (docs/PROTOCOL.md §5.4). Unknown members "
        "are kept.",
        {
            "smartcardid": _SMARTCARD_ID,
            "profileid": _PROFILE_ID,
            "operation": use("SpinOperation", "Default pinreset."),
            "driver": {
                "type": "object",
                "description": "Optional driver settings; passed to the device untouched.",
                "additionalProperties": True,
            },
        },
        kept=True,
    ),
    "EpinCommand": obj(
        "Desktop: finish a PIN reset (docs/PROTOCOL.md §5.4). Unknown members are kept.",
        {
            "smartcardid": _SMARTCARD_ID,
            "profileid": _PROFILE_ID,
            "encryptednonce": string(
                "The startpinreset answer's nonce encrypted with the admin key, in hex.",
                pattern="^([0-9a-fA-F]{2})+$",
                maxLength=8192,
            ),
            "newadminkey": string("Optional: 48 lowercase hex characters.", pattern=_HEX48),
        },
        required=["encryptednonce"],
        kept=True,
    ),
    # --- result body (docs/PROTOCOL.md §4.2, §8) ---
    "Destination": obj(
        "One box the command was delivered to.",
        {
            "to": string("The address of `commandHeader.to` that named this box."),
            "bid": uuid("The box."),
            "uri": string(
                "Plug-out URI with this destination's one-time token: what a page links to or "
                "renders as a QR code."
            ),
            "appLink": string(
                "Same-device link for a user on the phone itself: `personal://<public-url without "
                "https://>/<bid>/<mid>?title=&redirect=&token=<token>` (the scheme is "
                "HERMOD_APP_LINK_SCHEME for branded apps). Fill `title` (form-encoded, shown by "
                "the app while it works) and `redirect` (percent-encoded URL the app returns to)."
            ),
            "pid": uuid("The profile, for a profile's box."),
            "mid": uuid("The message."),
            "location": string("The message URL: <public-url>/<bid>/<mid>.", format="uri"),
            "state": ref("DestinationState"),
            "fetchedAt": string(
                "When the app fetched the message; null until then.",
                format="date-time",
                nullable=True,
            ),
        },
        required=["to", "bid", "uri", "mid", "location"],
    ),
    "ResponseHeader": obj(
        "The header of a device's answer.",
        {
            "inReplyTo": string("The location of the message answered.", format="uri"),
            "status": {"type": "integer", "description": "200."},
        },
        required=["inReplyTo"],
        kept=True,
    ),
    "DeviceResponse": obj(
        "A device's answer object (`provResponse` …).",
        {
            "code": number(
                "0 success; 1 user declined, 2 no matching key, 3 not supported, 4 device error "
                "(non-zero ends the command FAILED).",
                minimum=0,
                maximum=99,
            ),
            "result": obj(
                "What the device produced; absent for cert, delete and epin.",
                {
                    "contenttype": string("jws, pkcs7, raw, xmldsig or json."),
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
    "Failure": obj(
        "Why the command did not complete.",
        {
            "code": string(
                "UPPER_SNAKE, e.g. DEVICE_DECLINED, NONCE_MISMATCH, EXPIRED, CANCELLED."
            ),
            "message": string("One sentence for a person."),
        },
        required=["code", "message"],
    ),
    "ProfileSummary": obj(
        "The profile a completed provisioning created (all members), or the known profile "
        "whose key signed the answer to a profile-less `@tmp` sign/authenticate (`id`, "
        "`userid`, `name`, `servername`).",
        {
            "id": uuid("The profile id."),
            "userid": string("Its user."),
            "name": string("Its name."),
            "servername": string("Its server label."),
            "boxurl": string("Its permanent box.", format="uri", nullable=True),
            "keys": array(
                "Its keys.",
                obj(
                    "One key.",
                    {
                        "keyid": string("The key request's keyid."),
                        "usage": ref("KeyUsage"),
                        "keytype": ref("KeyType"),
                        "keylength": {"type": "integer", "description": "Bits."},
                        "certreq": string(
                            "Base64 DER PKCS#10 signed by the new key.", format="byte"
                        ),
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
    "Signer": obj(
        "The signer of the answer to a profile-less `@tmp` sign/authenticate: the certificate "
        "the answer carried (PKCS#7 signer certificate, JWS `x5c[0]`), whose key verified it.",
        {
            "certificate": string("Base64 DER X.509.", format="byte"),
            "subject": string("Its subject."),
            "issuer": string("Its issuer."),
            "serialNumber": string("Its serial number, decimal."),
            "sha256": string("Hex SHA-256 of the DER."),
            "verified": {
                "type": "boolean",
                "description": "true: it chains to one of the group's trusted signer CAs. "
                "false: the group trusts none, so nobody vouches for it (a group that trusts "
                "some refuses a signer outside them: SIGNER_NOT_TRUSTED).",
            },
            "reason": string('Why it is not verified: "unverified signer".'),
        },
        required=["certificate", "subject", "issuer", "verified"],
    ),
    "CertificateSummary": obj(
        "A certificate the server obtained from the group's CA (docs/PROTOCOL.md §10).",
        {
            "keyid": string("The key it certifies."),
            "data": string("Base64 DER X.509.", format="byte"),
            "subject": string("Its subject."),
            "issuer": string("Its issuer."),
            "notAfter": string("End of validity.", format="date-time"),
        },
        required=["keyid", "data"],
    ),
    # --- mailbox (docs/PROTOCOL.md §6) ---
    "MailboxEntry": obj(
        "One message waiting in a box.",
        {
            "mid": uuid("The message."),
            "location": string("Its URL.", format="uri"),
            "commandType": ref("CommandType"),
            "expires": string("When it is withdrawn if not answered.", format="date-time"),
        },
        required=["mid", "location", "commandType", "expires"],
    ),
    "MessageHeader": obj(
        "The envelope of a message.",
        {
            "mid": uuid("The message."),
            "bid": uuid("Its box."),
            "location": string("Its URL; the answer's `responseHeader.inReplyTo`.", format="uri"),
            "commandId": string("The command.", pattern="^[0-9]+$"),
            "commandType": ref("CommandType"),
            "fqdn": string("The server's host name."),
            "expires": string("When the message is withdrawn.", format="date-time"),
        },
        required=["mid", "bid", "location", "commandId", "commandType", "fqdn", "expires"],
    ),
    "Assigned": obj(
        "The profile id and permanent box the server proposes to a provisioning device.",
        {
            "profileid": uuid("The profile id to use."),
            "boxurl": string("The permanent box: <public-url>/<bid>.", format="uri"),
        },
        required=["profileid", "boxurl"],
    ),
}

BODY_COMPONENT = {e.body_key: e.body_key[0].upper() + e.body_key[1:] for e in ENDPOINTS.values()}


def _params(*, tbs_required: bool) -> Schema:
    return obj(
        "What to sign, how, and with which key."
        + ("" if tbs_required else " Without `tbs` the server adds a random 32-byte challenge."),
        {
            "description": array("Items the app shows.", ref("SignItem")),
            "tbs": array("Items to be signed.", ref("SignItem"), minItems=1),
            "filter": ref("KeyFilter"),
            "format": use("SignFormat", "Default jws."),
            "mechanism": string("e.g. CKM_SHA256_RSA_PKCS.", maxLength=100),
        },
        required=["tbs"] if tbs_required else (),
        kept=True,
    )


COMPONENTS["SignParams"] = _params(tbs_required=True)
COMPONENTS["AuthParams"] = _params(tbs_required=False)

COMPONENTS["PushProvider"] = enum(
    "relay (the group's notification server), webpush (Web Push / UnifiedPush), fcm, apns.",
    ["relay", "webpush", "fcm", "apns"],
)
COMPONENTS["ChallengeVerdict"] = enum("Always ACCEPTED (a refusal is an error).", ["ACCEPTED"])
