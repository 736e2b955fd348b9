"""The mailbox API for devices (docs/PROTOCOL.md §6): thin views over the device side's reads
(selectors.mailbox), its writes (services.mailbox, services.answers) and the pure bodies
(protocol.mailbox)."""

import uuid
from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from hermod_core.api import ratelimit, schema
from hermod_core.api.errors import ApiError
from hermod_core.api.json_body import read_json
from hermod_core.protocol.mailbox import box_body, message_body
from hermod_core.proxies import budget_address, client_address
from hermod_core.selectors.mailbox import (
    BoxAccess,
    BoxNotFound,
    device_message,
    mailbox_open,
    message_get_for_box,
    message_list_for_box,
)
from hermod_core.services.answers import AlreadyAnswered, answer_accept
from hermod_core.services.credentials import presented_token_hash, token_hash
from hermod_core.services.mailbox import box_token_rotate, message_mark_fetched
from hermod_core.services.push import BoxNotOpened, PushRefused, push_register, push_unregister

_TOKEN = OpenApiParameter(
    "token",
    str,
    OpenApiParameter.QUERY,
    required=False,
    description="The one-time token (or box token); alternatively `Authorization: Bearer`.",
)


# Box and message ids are UUIDs (docs/PROTOCOL.md §1): said so, a generated or hand-written id
# cannot carry a "/" into another route (``<bid>/token``, ``<bid>/push``).
_BID = OpenApiParameter("bid", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The box id.")
_MID = OpenApiParameter(
    "mid", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The message id."
)


def _missing() -> ApiError:
    return ApiError(404, "NOT_FOUND", "No such box or message.")


def _not_found(request: Request) -> ApiError:
    """The same answer for an unknown box or token: no oracle (docs/PROTOCOL.md §6).

    Only requests that opened no box get here, and each counts against the failure budget of its
    address (``hermod_core.proxies.client_address``): token guessing ends in 429 — for the
    guesser's failing requests only, since a valid token never consults that budget.
    """
    ratelimit.failed(ratelimit.box_misses(), budget_address(client_address(request)))
    return _missing()


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _mid(value: str) -> uuid.UUID:
    """A message id under a box the request already opened: an unknown one is a plain 404,
    counted by the box's own request budget rather than against its address."""
    mid = _uuid(value)
    if mid is None:
        raise _missing()
    return mid


def _token(request: Request) -> str | None:
    header = str(request.META.get("HTTP_AUTHORIZATION", ""))
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    token = request.query_params.get("token")
    return str(token).strip() if token else None


def _open(request: Request, bid: str, *, for_answer: bool = False) -> BoxAccess:
    """The box the request's token opens, then its per-token request budget.

    The token is checked first (one indexed lookup): a valid one proceeds whatever others sent
    from its address; only a request that opens nothing spends the address's failure budget.
    """
    digest = presented_token_hash(_token(request))
    box_id = _uuid(bid)
    try:
        if box_id is None or digest is None:
            raise BoxNotFound
        access = mailbox_open(bid=box_id, token_hash=digest, for_answer=for_answer)
    except BoxNotFound:
        raise _not_found(request) from None
    ratelimit.hit(ratelimit.per_box(), digest[:32])
    return access


class DeviceView(APIView):
    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []


class BoxView(DeviceView):
    @extend_schema(
        operation_id="mailbox_list",
        summary="List the messages waiting in a box",
        parameters=[_BID, _TOKEN],
        responses=schema.BOX_RESPONSES,
        tags=["mailbox"],
    )
    def get(self, request: Request, bid: str) -> Response:
        access = _open(request, bid)
        entries = message_list_for_box(access=access)
        return Response(
            box_body(
                public_url=settings.HERMOD_PUBLIC_URL, bid=str(access.mailbox_id), entries=entries
            )
        )


class MessageView(DeviceView):
    @extend_schema(
        operation_id="message_fetch",
        summary="Fetch one message",
        parameters=[_BID, _MID, _TOKEN],
        responses=schema.MESSAGE_RESPONSES,
        tags=["mailbox"],
    )
    def get(self, request: Request, bid: str, mid: str) -> Response:
        access = _open(request, bid)
        try:
            message = message_get_for_box(access=access, mid=_mid(mid))
        except BoxNotFound:
            raise _missing() from None
        message_mark_fetched(message=message)
        body = message_body(
            public_url=settings.HERMOD_PUBLIC_URL, message=device_message(message=message)
        )
        return Response(body)

    @extend_schema(
        operation_id="message_answer",
        summary="Answer one message",
        description="The first valid answer wins; 422 names the validation rule the answer broke "
        "(the command then ends FAILED).",
        parameters=[_BID, _MID, _TOKEN],
        request=schema.ANSWER_REQUEST,
        responses=schema.ANSWER_RESPONSES,
        examples=[
            OpenApiExample("Provisioning answer", value=schema.ANSWER_EXAMPLE, request_only=True)
        ],
        tags=["mailbox"],
    )
    def post(self, request: Request, bid: str, mid: str) -> Response:
        access = _open(request, bid, for_answer=True)
        try:
            outcome = answer_accept(access=access, mid=_mid(mid), raw=read_json(request))
        except BoxNotFound:
            raise _missing() from None
        except AlreadyAnswered:
            raise ApiError(409, "ALREADY_ANSWERED", "The message was already answered.") from None
        if outcome.rejected is not None:
            raise ApiError(422, outcome.rejected.code, outcome.rejected.message)
        if outcome.boxtoken is not None:
            # Only the device whose provisioning was accepted learns its box token (§6).
            return Response({"state": outcome.state, "boxtoken": outcome.boxtoken})
        return Response({"state": outcome.state})


class BoxTokenView(DeviceView):
    @extend_schema(
        operation_id="box_token_rotate",
        parameters=[_BID],
        summary="Rotate a permanent box's token",
        description="Presented with the box's current box token (`Authorization: Bearer`), "
        "answers a new one; the old token stops opening the box at once. A one-time token "
        "cannot rotate (404).",
        request=None,
        responses=schema.BOX_TOKEN_RESPONSES,
        tags=["mailbox"],
    )
    def post(self, request: Request, bid: str) -> Response:
        box = _uuid(bid)
        try:
            if box is None:
                raise BoxNotFound
            boxtoken = box_token_rotate(bid=box, token=_token(request))
        except BoxNotFound:
            raise _not_found(request) from None
        return Response({"boxtoken": boxtoken})


_PUSH_AUTH_NOTE = (
    " Presented with the box token of the profile's permanent box (`Authorization: Bearer`); a "
    "one-time message token does not open it (404)."
)


class PushView(DeviceView):
    """docs/PROTOCOL.md §14: the device's push registration, with its box token."""

    def _box(self, request: Request, bid: str) -> tuple[uuid.UUID, str | None]:
        box = _uuid(bid)
        if box is None:
            raise _not_found(request)
        return box, _token(request)

    @extend_schema(
        operation_id="push_register",
        parameters=[_BID],
        summary="Register (or replace) the device's push target",
        description="From now on every message queued for the box also wakes the device through "
        "the group's provider, with ids and the type only (docs/push.md)." + _PUSH_AUTH_NOTE,
        request=schema.PUSH_REQUEST,
        responses=schema.PUSH_RESPONSES,
        tags=["mailbox"],
    )
    def put(self, request: Request, bid: str) -> Response:
        box, token = self._box(request, bid)
        raw = read_json(request)  # malformed JSON is 400 whatever the box: that tells nothing
        try:
            # The members are checked only once the box opened (404 first, as for every token).
            answer = push_register(bid=box, token=token, raw=raw)
        except BoxNotOpened:
            raise _not_found(request) from None
        except PushRefused as exc:
            raise ApiError(422, exc.code, exc.message, field=exc.field) from None
        ratelimit.hit(ratelimit.per_box(), token_hash(token or "")[:32])
        return Response(answer)

    @extend_schema(
        operation_id="push_unregister",
        parameters=[_BID],
        summary="Remove the device's push target",
        description="The device polls again." + _PUSH_AUTH_NOTE,
        request=None,
        responses=schema.PUSH_DELETE_RESPONSES,
        tags=["mailbox"],
    )
    def delete(self, request: Request, bid: str) -> Response:
        box, token = self._box(request, bid)
        try:
            push_unregister(bid=box, token=token)
        except BoxNotOpened:
            raise _not_found(request) from None
        ratelimit.hit(ratelimit.per_box(), token_hash(token or "")[:32])
        return Response(status=204)
