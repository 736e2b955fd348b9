"""The command API for application servers (docs/PROTOCOL.md §4–§5, §8): thin views."""

import logging

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from hermod_core import observability
from hermod_core.api import schema
from hermod_core.api.auth import ApiKeyAuthentication, IsClient
from hermod_core.api.errors import ApiError
from hermod_core.api.json_body import read_json
from hermod_core.models import Client, Command
from hermod_core.protocol.commands import ENDPOINTS, parse_command_request
from hermod_core.protocol.results import result_body
from hermod_core.selectors.commands import command_get_for_client, command_result_view
from hermod_core.services.commands import command_cancel, command_create_with_messages

logger = logging.getLogger("hermod.api")


class ClientView(APIView):
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [IsClient]

    def client(self, request: Request) -> Client:
        client: Client = request.user  # type: ignore[assignment]
        return client


class CommandCreateView(ClientView):
    endpoint_name = ""

    def post(self, request: Request) -> Response:
        # ProtocolError and CommandError become their §12 bodies in api.errors.
        command_request = parse_command_request(self.endpoint_name, read_json(request))
        created = command_create_with_messages(client=self.client(request), request=command_request)
        observability.command_id.set(str(created.command.pk))
        logger.info("command created: %s", created.command.command_type)
        view = command_result_view(created.command, messages=created.messages)
        return Response(result_body(view))


def _command_view(name: str) -> type[CommandCreateView]:
    """One view class per endpoint, so that each has its own OpenAPI operation."""
    endpoint = ENDPOINTS[name]

    class View(CommandCreateView):
        endpoint_name = name

        @extend_schema(
            operation_id=f"command_{name}",
            summary=f"Create a {endpoint.command_type.value} command",
            description=schema.COMMAND_DESCRIPTIONS[name],
            request=schema.command_request(name),
            responses=schema.COMMAND_RESPONSES,
            examples=[
                OpenApiExample(
                    f"{name} request", value=schema.REQUEST_EXAMPLES[name], request_only=True
                ),
                *(
                    OpenApiExample(title, value=value, request_only=True)
                    for title, value in schema.MORE_REQUEST_EXAMPLES.get(name, [])
                ),
                OpenApiExample(
                    "In progress", value=schema.result_example(endpoint), response_only=True
                ),
            ],
            tags=["command"],
        )
        def post(self, request: Request) -> Response:
            return super().post(request)

    View.__name__ = View.__qualname__ = f"{name.capitalize()}CommandView"
    return View


COMMAND_VIEWS = {name: _command_view(name) for name in ENDPOINTS}

_COMMAND_ID = OpenApiParameter("command_id", int, OpenApiParameter.PATH, description="commandId")


def _own_command(client: Client, command_id: str) -> Command:
    command = None
    if command_id.isdigit() and len(command_id) < 19:
        command = command_get_for_client(client=client, command_id=int(command_id))
    if command is None:
        raise ApiError(404, "COMMAND_NOT_FOUND", f"No command {command_id} for this client.")
    observability.command_id.set(str(command.pk))
    return command


class PollView(ClientView):
    @extend_schema(
        operation_id="command_poll",
        summary="The current result body of a command",
        parameters=[_COMMAND_ID],
        responses=schema.POLL_RESPONSES,
        tags=["command"],
    )
    def get(self, request: Request, command_id: str) -> Response:
        command = _own_command(self.client(request), command_id)
        return Response(result_body(command_result_view(command)))


class CancelView(ClientView):
    @extend_schema(
        operation_id="command_cancel",
        summary="Cancel a command still in progress",
        description="Withdraws its messages; the command ends CANCELLED and its callback is sent."
        " A command already final answers 409.",
        request=None,
        parameters=[_COMMAND_ID],
        responses=schema.CANCEL_RESPONSES,
        tags=["command"],
    )
    def post(self, request: Request, command_id: str) -> Response:
        command = _own_command(self.client(request), command_id)
        if not command_cancel(command=command):
            raise ApiError(409, "COMMAND_FINAL", "The command is already final.")
        command.refresh_from_db()
        return Response(result_body(command_result_view(command)))
