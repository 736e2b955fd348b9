"""Example values of the document, built with the same pure functions the server renders its
bodies with (``protocol.results``, ``protocol.mailbox``), so they cannot drift from the real
shapes."""

from datetime import UTC, datetime
from typing import Any

from drf_spectacular.utils import OpenApiExample

from hermod_core.lifecycle import State
from hermod_core.protocol.answers import DEVICE_CODES
from hermod_core.protocol.commands import (
    ENDPOINTS,
    TMP,
    CommandType,
    Endpoint,
)
from hermod_core.protocol.mailbox import (
    Assignment,
    BoxEntry,
    DeviceMessage,
    box_body,
    message_body,
)
from hermod_core.protocol.results import (
    APP_LINK_SCHEME,
    DestinationView,
    KeyView,
    ProfileView,
    ResultView,
    app_link,
    box_url,
    message_location,
    plugout_uri,
    result_body,
)
from hermod_core.protocol.seed_examples import SEED_CERTIFICATE_B64, SEED_DUMMY_CSR_B64

_PUBLIC_URL = "https://hermod.example.com:20400/hermod/rest/ms"
_FQDN = "hermod.example.com"
COMMAND_ID = 18092
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
            command_id=COMMAND_ID,
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
_LOCATION = message_location(_PUBLIC_URL, _BOX, _MID)
_PROFILE_SUMMARY = {
    "id": _PROFILE,
    "userid": "userA",
    "name": "TestProfile",
    "servername": "nexus-cod1",
}


def _sign_answer(
    code: int,
    result: dict[str, str] | None = None,
    *,
    location: str = _LOCATION,
    status: int | None = None,
) -> dict[str, Any]:
    """A device's answer to a sign message."""
    header: dict[str, Any] = {"inReplyTo": location} | ({"status": status} if status else {})
    answer: dict[str, Any] = {"code": code} | ({"result": result} if result else {})
    return {"responseHeader": header, "signResponse": answer}


def _signed(title: str, contenttype: str, data: str, verification: str) -> OpenApiExample:
    """A completed sign whose answer carries ``data`` in the ``contenttype`` format."""
    return OpenApiExample(
        title,
        value=_result(
            _SIGN,
            State.COMPLETED,
            answer=_sign_answer(0, {"contenttype": contenttype, "data": data}),
            signature={"verification": verification, "format": contenttype},
        ),
    )


RESULT_EXAMPLES = [
    OpenApiExample(
        "Completed provisioning",
        value=_result(
            _PROV,
            State.COMPLETED,
            answer=ANSWER_EXAMPLE,
            profile=ProfileView(
                id=_PROFILE_SUMMARY["id"],
                userid=_PROFILE_SUMMARY["userid"],
                name=_PROFILE_SUMMARY["name"],
                servername=_PROFILE_SUMMARY["servername"],
                boxurl=box_url(_PUBLIC_URL, _BOX),
                keys=(
                    KeyView(
                        keyid="signer",
                        usage="SIG",
                        keytype="RSA",
                        keylength=2048,
                        certreq="<base64 DER PKCS#10 signed by the new key>",
                    ),
                ),
                device_info={
                    "operatingsystem": "Android 14",
                    "name": "Pixel",
                    "model": "Pixel 8",
                },
            ),
        ),
    ),
    OpenApiExample(
        "Signed from a desktop app through @tmp, without profile",
        value=_result(
            _SIGN,
            State.COMPLETED,
            tmp=True,
            answer=_sign_answer(
                0,
                {"contenttype": "pkcs7", "data": "<base64 DER CMS SignedData>"},
                location=_TMP_LOCATION,
                status=200,
            ),
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
                "profile": _PROFILE_SUMMARY,
            },
        ),
    ),
    _signed("Raw PKCS#1 signature", "raw", "<base64 RSASSA-PKCS1-v1_5>", "VERIFIED"),
    _signed(
        "XML signature, not verified by the server",
        "xmldsig",
        "<base64 XML Signature>",
        "NOT_VERIFIED_BY_SERVER",
    ),
    OpenApiExample(
        "Declined on the device",
        value=_result(
            _SIGN,
            State.FAILED,
            answer=_sign_answer(1),
            failure_code=DEVICE_CODES[1][0],
            failure_reason=DEVICE_CODES[1][1],
        ),
    ),
    OpenApiExample(
        "Expired",
        value=_result(
            _SIGN,
            State.EXPIRED,
            failure_code="EXPIRED",
            failure_reason="No valid answer before the timeout.",
        ),
    ),
]
CANCELLED_EXAMPLE = OpenApiExample(
    "Cancelled",
    value=_result(
        _SIGN,
        State.CANCELLED,
        failure_code="CANCELLED",
        failure_reason="Cancelled by the client.",
    ),
)
_EXPIRES_AT = datetime(2025, 6, 2, 10, 5, tzinfo=UTC)  # _EXPIRES
BOX_EXAMPLE = box_body(
    public_url=_PUBLIC_URL,
    bid=_BOX,
    entries=[BoxEntry(mid=_MID, command_type="SIGN", expires=_EXPIRES_AT)],
)
MESSAGE_EXAMPLE = message_body(
    public_url=_PUBLIC_URL,
    message=DeviceMessage(
        mid=_TMP_MID,
        bid=_TMP_BOX,
        command_id=COMMAND_ID,
        command_type="PROV",
        expires=_EXPIRES_AT,
        command=REQUEST_EXAMPLES["provision"]["provCommand"],
        assigned=Assignment(profile_id=_PROFILE, box_id=_BOX),
    ),
)
BOX_TOKEN_EXAMPLE = "Zk3q9cV1m2yB7xT0rWn4hJ8sL6pD5aE2uG1iO3kN9fQ"  # noqa: S105 (an example)
_P256DH_EXAMPLE = (
    "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM"
)
PUSH_EXAMPLE = {
    "provider": "webpush",
    "os": "android",
    "fingerprint": "3f9a0c51d2e4",
    "updated": _EXPIRES,
    "vapidPublicKey": _P256DH_EXAMPLE,
}
CA_VERIFY_EXAMPLE = {"csr": SEED_DUMMY_CSR_B64}
