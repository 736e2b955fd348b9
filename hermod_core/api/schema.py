"""OpenAPI descriptions of the command and mailbox API (served at /hermod/v3/api-docs)."""

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse

from hermod_core.protocol.commands import ENDPOINTS, Endpoint

ERROR = OpenApiResponse(OpenApiTypes.OBJECT, description="The error body of PROTOCOL.md §12")

COMMAND_DESCRIPTIONS = {name: f"Body key `{e.body_key}`." for name, e in ENDPOINTS.items()}
REQUEST_EXAMPLES: dict[str, Any] = {
    name: {"commandHeader": {"lifespan": 300, "timeout": 300}, e.body_key: {}}
    for name, e in ENDPOINTS.items()
}


def command_request(name: str) -> Any:
    return OpenApiTypes.OBJECT


def result_example(endpoint: Endpoint) -> dict[str, Any]:
    return {"commandId": "1", "commandType": endpoint.command_type.value, "state": "IN_PROGRESS"}


RESULT = OpenApiResponse(OpenApiTypes.OBJECT, description="The result body")
COMMAND_RESPONSES = {200: RESULT, 400: ERROR, 401: ERROR, 404: ERROR, 413: ERROR, 429: ERROR}
POLL_RESPONSES = {200: RESULT, 401: ERROR, 404: ERROR}
CANCEL_RESPONSES = {200: RESULT, 401: ERROR, 404: ERROR, 409: ERROR}
BOX_RESPONSES = {200: OpenApiTypes.OBJECT, 404: ERROR}
MESSAGE_RESPONSES = {200: OpenApiTypes.OBJECT, 404: ERROR}
ANSWER_REQUEST = OpenApiTypes.OBJECT
ANSWER_RESPONSES = {200: OpenApiTypes.OBJECT, 400: ERROR, 404: ERROR, 409: ERROR, 422: ERROR}
ANSWER_EXAMPLE: dict[str, Any] = {
    "responseHeader": {
        "inReplyTo": "https://hermod.example.com/hermod/rest/ms/<bid>/<mid>",
        "status": 200,
    },
    "provResponse": {"code": 0, "result": {"contenttype": "jws", "data": "<compact JWS>"}},
}
