"""drf-spectacular extensions: how the X-Api-Key and CA verifier authentications appear in the
OpenAPI document."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "hermod_core.api.auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "X-Api-Key",
            "description": "base64(<client-id>:<key>) (docs/PROTOCOL.md §3)",
        }


class CaVerifierScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "hermod_core.api.auth.CaVerifierAuthentication"
    name = "CaVerifier"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A group CA's verifier credential (docs/PROTOCOL.md §10)",
        }
