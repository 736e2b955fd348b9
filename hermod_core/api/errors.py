"""The one place that turns errors into the JSON error body of docs/PROTOCOL.md §12.

``{"error": {"code": "<UPPER_SNAKE>", "message": "<sentence>", "field": "<dotted path>"}}`` —
never a stack trace, SQL or path.
"""

from typing import Any

from django.http import JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from hermod_core.protocol.errors import ProtocolError
from hermod_core.services.ca_challenges import ChallengeRefused, ChallengeRequestError
from hermod_core.services.commands import CommandError


class ApiError(Exception):
    """An error a view or service wants the client to see, with its HTTP status."""

    def __init__(
        self,
        http_status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers or {}


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if field:
        error["field"] = field
    return {"error": error}


def error_response(
    http_status: int, code: str, message: str, field: str | None = None
) -> JsonResponse:
    return JsonResponse(error_body(code, message, field), status=http_status)


UNAUTHORIZED_MESSAGE = "A valid X-Api-Key header is required."
CHALLENGE_REFUSED_MESSAGE = "The challenge does not allow this enrolment."

_DRF_CODES = {
    exceptions.ParseError: ("INVALID_JSON", "The request body is not valid JSON."),
    exceptions.NotAuthenticated: ("UNAUTHORIZED", UNAUTHORIZED_MESSAGE),
    exceptions.AuthenticationFailed: ("UNAUTHORIZED", UNAUTHORIZED_MESSAGE),
    exceptions.PermissionDenied: ("FORBIDDEN", "This request is not allowed."),
    exceptions.NotFound: ("NOT_FOUND", "No such resource."),
    exceptions.UnsupportedMediaType: (
        "UNSUPPORTED_MEDIA_TYPE",
        "The request body must be application/json.",
    ),
    exceptions.NotAcceptable: ("NOT_ACCEPTABLE", "Only application/json is served."),
}


def _domain_error(exc: Exception) -> ApiError | None:
    """The HTTP face of the domain's errors: a malformed body is 400, a refused command carries
    its own status."""
    if isinstance(exc, ProtocolError):
        return ApiError(400, exc.code, exc.message, field=exc.field)
    if isinstance(exc, CommandError):
        return ApiError(exc.status, exc.code, exc.message, field=exc.field)
    if isinstance(exc, ChallengeRequestError):
        return ApiError(400, exc.code, exc.message, field=exc.field)
    if isinstance(exc, ChallengeRefused):
        # One answer for unknown, foreign, used, expired or mismatched: no oracle (§10).
        return ApiError(403, "CHALLENGE_REFUSED", CHALLENGE_REFUSED_MESSAGE)
    return None


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: every API error leaves in the §12 shape."""
    exc = _domain_error(exc) or exc
    if isinstance(exc, ApiError):
        set_rollback()
        return Response(
            error_body(exc.code, exc.message, exc.field),
            status=exc.http_status,
            headers=exc.headers,
        )
    if isinstance(exc, exceptions.MethodNotAllowed):
        return Response(
            error_body("METHOD_NOT_ALLOWED", f"Method {context['request'].method} is not allowed."),
            status=status.HTTP_405_METHOD_NOT_ALLOWED,
        )
    if isinstance(exc, exceptions.APIException):
        set_rollback()
        code, message = next(
            (pair for exc_type, pair in _DRF_CODES.items() if isinstance(exc, exc_type)),
            ("BAD_REQUEST", "The request is not valid."),
        )
        return Response(error_body(code, message), status=exc.status_code)
    return None  # ApiErrorMiddleware answers 500/503 for everything else
