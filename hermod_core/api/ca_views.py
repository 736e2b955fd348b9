"""The endpoint a group's SCEP CA calls to check a one-time challenge (docs/PROTOCOL.md §10):
thin."""

import logging
from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from hermod_core.api import schema
from hermod_core.api.auth import CaVerifierAuthentication, IsCaVerifier
from hermod_core.api.errors import ApiError
from hermod_core.api.json_body import read_json
from hermod_core.models import CaSettings
from hermod_core.services.ca_challenges import ChallengeRefused, ca_challenge_verify

logger = logging.getLogger("hermod.ca")


def _optional_text(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise ApiError(400, "INVALID_FIELD", f"{name} must be a string.", field=name)
    return value


class ChallengeVerifyView(APIView):
    authentication_classes = [CaVerifierAuthentication]
    permission_classes = [IsCaVerifier]

    @extend_schema(
        operation_id="ca_challenge_verify",
        summary="Check (and consume) a one-time SCEP challenge",
        description=schema.CA_VERIFY_DESCRIPTION,
        request=schema.CA_VERIFY_REQUEST,
        responses=schema.CA_VERIFY_RESPONSES,
        examples=[
            OpenApiExample(
                "The CSR the CA received", value=schema.CA_VERIFY_EXAMPLE, request_only=True
            ),
        ],
        tags=["ca"],
    )
    def post(self, request: Request) -> Response:
        ca: CaSettings = request.user  # type: ignore[assignment]
        body = read_json(request)
        if not isinstance(body, dict):
            raise ApiError(400, "INVALID_JSON", "The request body must be a JSON object.")
        try:
            accepted = ca_challenge_verify(
                ca=ca,
                challenge=_optional_text(body, "challenge"),
                csr_b64=_optional_text(body, "csr"),
            )
        except ChallengeRefused as exc:
            logger.warning("CA of group %s: challenge refused: %s", ca.group.name, exc.reason)
            raise
        logger.info(
            "CA of group %s: challenge of command %s key %s accepted (first use: %s)",
            ca.group.name,
            accepted.command_id,
            accepted.keyid,
            accepted.first_use,
        )
        return Response(
            {
                "state": "ACCEPTED",
                "commandId": str(accepted.command_id),
                "keyid": accepted.keyid,
            }
        )
