"""Security headers of the console and the enrollment portal."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from hermod_core.api.middleware import is_api_path

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


class ContentSecurityPolicyMiddleware:
    """Sets a strict Content-Security-Policy on every page outside the API.

    The pages carry no inline script or style (JavaScript lives in ``static/hermod/console.js``,
    styles in ``hermod.css``), so nothing needs ``'unsafe-inline'``. The API and Swagger UI
    (under ``/hermod/``) are left alone: they serve JSON, or a page this project does not write.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not is_api_path(request.path):
            response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response
