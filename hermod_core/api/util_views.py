"""Operational endpoints: the generateclient helper (docs/PROTOCOL.md §9), /healthz and /livez."""

import logging
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from drf_spectacular.utils import extend_schema
from kombu.connection import Connection
from rest_framework.request import Request
from rest_framework.views import APIView

from hermod_core import sql
from hermod_core.api import schema
from hermod_core.api.errors import ApiError
from hermod_core.protocol.client_config import (
    is_client_id,
    render_generated_client,
)
from hermod_core.services.credentials import api_key_generate

logger = logging.getLogger("hermod.health")


class GenerateClientView(APIView):
    """A fresh, unregistered client configuration snippet to paste into a configuration file."""

    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []

    @extend_schema(
        operation_id="generateclient",
        summary="Generate a client configuration snippet",
        description="Answers `text/plain` YAML with a new random key; nothing is stored. Also "
        "served without the prefix, as `/util/generateclient/{clientId}`.",
        responses=schema.GENERATECLIENT_RESPONSES,
        tags=["util"],
    )
    def get(self, request: Request, client_id: str) -> HttpResponse:
        if not is_client_id(client_id):
            raise ApiError(
                400, "INVALID_CLIENT_ID", "The client id is not valid.", field="clientId"
            )
        snippet = render_generated_client(
            client_id,
            api_key_generate(),
            callback_url=f"https://{request.get_host().split(':')[0]}/callback-base",
        )
        return HttpResponse(snippet, content_type="text/plain; charset=utf-8")


def _database_ok() -> tuple[bool, str]:
    try:
        return True, sql.database_ping()
    except Exception as exc:  # any failure means "not reachable"; the reason is logged only
        logger.warning("database check failed: %s", exc)
        return False, connection.vendor


def _broker_ok() -> tuple[bool, str]:
    url = settings.CELERY_BROKER_URL
    transport = url.split("://", 1)[0]
    try:
        with Connection(  # type: ignore[no-untyped-call]
            url,
            transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS,
            connect_timeout=2,
        ) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return True, transport
    except Exception as exc:  # as above
        logger.warning("broker check failed: %s", exc)
        return False, transport


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness and readiness: database and broker reachable, and the version. 503 if not."""
    db_ok, db_vendor = _database_ok()
    broker_ok, broker_transport = _broker_ok()
    healthy = db_ok and broker_ok
    return JsonResponse(
        {
            "status": "ok" if healthy else "unavailable",
            "version": settings.VERSION,
            "database": {"ok": db_ok, "vendor": db_vendor},
            "broker": {"ok": broker_ok, "transport": broker_transport},
        },
        status=200 if healthy else 503,
    )


def livez(request: HttpRequest) -> HttpResponse:
    """Liveness only: the process answers; no database or broker access (benchmark ceiling)."""
    return HttpResponse("ok", content_type="text/plain")
