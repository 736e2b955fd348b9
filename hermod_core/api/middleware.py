"""Guards in front of the API: body size limit and JSON answers for unhandled failures."""

import logging
from collections.abc import Callable

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse

from hermod_core.api.errors import error_response

logger = logging.getLogger("hermod.api")


def is_api_path(path: str) -> bool:
    prefix = f"/{settings.HERMOD_API_PREFIX}/"
    return path.startswith(
        (prefix, "/command/", "/ms/", "/ca/", "/util/", "/hermod/", "/healthz", "/metrics")
    )


class ApiErrorMiddleware:
    """Refuses oversize bodies with 413 before they are read (docs/PROTOCOL.md §11) and turns any
    exception escaping an API view into a JSON error: 503 while the database is unreachable,
    500 otherwise — logged here, never shown to the client (§12)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_api_path(request.path):
            length = request.META.get("CONTENT_LENGTH") or "0"
            try:
                too_big = int(length) > settings.HERMOD_MAX_BODY_BYTES
            except ValueError:
                return error_response(400, "BAD_REQUEST", "Content-Length is not a number.")
            if too_big:
                return error_response(
                    413,
                    "PAYLOAD_TOO_LARGE",
                    f"The request body exceeds {settings.HERMOD_MAX_BODY_BYTES} bytes.",
                )
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_api_path(request.path):
            return None
        if isinstance(exception, OperationalError | InterfaceError):
            logger.warning("database unavailable on %s: %s", request.path, exception)
            response = error_response(
                503, "SERVICE_UNAVAILABLE", "The service is temporarily unavailable; retry later."
            )
            response["Retry-After"] = "5"
            return response
        logger.exception("unhandled error on %s", request.path)
        return error_response(500, "INTERNAL_ERROR", "An internal error occurred.")
