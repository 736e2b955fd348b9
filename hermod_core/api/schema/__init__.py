"""OpenAPI description of the command and mailbox API (docs/PROTOCOL.md), served at
/hermod/v3/api-docs.

The wire formats are written as plain OpenAPI 3.0 schema objects, not as serializers: the
protocol keeps members it does not know, accepts numbers and booleans spelled as strings ("2048",
"true") and names members after the command type (``provCommand`` …), none of which a serializer
describes well. One job per module:

- ``blocks``: the building blocks of a schema object (``obj``, ``string``, ``number`` …) and
  ``doc``, the documentation-only serializer class a view names a body with (its extension hands
  drf-spectacular the class's schema);
- ``components``: ``COMPONENTS``, the named schemas, each described once;
- ``requests``: the request bodies and the operations' descriptions;
- ``examples``: example values, built with the same pure functions the server renders its bodies
  with (``protocol.results``, ``api.errors``), so they cannot drift from the real shapes;
- ``responses``: each operation's answers, status by status, with their error examples;
- ``hooks``: drf-spectacular's pre- and post-processing hooks (``SPECTACULAR_SETTINGS``): the
  path aliases documented once, and every component the document refers to added once, by name.

The views import this package (``schema.COMMAND_RESPONSES`` …); the names below are its API.
"""

from hermod_core.api.schema.examples import (
    ANSWER_EXAMPLE,
    CA_VERIFY_EXAMPLE,
    MORE_REQUEST_EXAMPLES,
    REQUEST_EXAMPLES,
    result_example,
)
from hermod_core.api.schema.hooks import add_components, hide_path_aliases
from hermod_core.api.schema.requests import (
    ANSWER_REQUEST,
    CA_VERIFY_DESCRIPTION,
    CA_VERIFY_REQUEST,
    COMMAND_DESCRIPTIONS,
    PUSH_REQUEST,
    command_request,
)
from hermod_core.api.schema.responses import (
    ANSWER_RESPONSES,
    BOX_RESPONSES,
    BOX_TOKEN_RESPONSES,
    CA_VERIFY_RESPONSES,
    CANCEL_RESPONSES,
    COMMAND_RESPONSES,
    GENERATECLIENT_RESPONSES,
    MESSAGE_RESPONSES,
    POLL_RESPONSES,
    PUSH_DELETE_RESPONSES,
    PUSH_RESPONSES,
)

__all__ = [
    "ANSWER_EXAMPLE",
    "ANSWER_REQUEST",
    "ANSWER_RESPONSES",
    "BOX_RESPONSES",
    "BOX_TOKEN_RESPONSES",
    "CANCEL_RESPONSES",
    "CA_VERIFY_DESCRIPTION",
    "CA_VERIFY_EXAMPLE",
    "CA_VERIFY_REQUEST",
    "CA_VERIFY_RESPONSES",
    "COMMAND_DESCRIPTIONS",
    "COMMAND_RESPONSES",
    "GENERATECLIENT_RESPONSES",
    "MESSAGE_RESPONSES",
    "MORE_REQUEST_EXAMPLES",
    "POLL_RESPONSES",
    "PUSH_DELETE_RESPONSES",
    "PUSH_REQUEST",
    "PUSH_RESPONSES",
    "REQUEST_EXAMPLES",
    "add_components",
    "command_request",
    "hide_path_aliases",
    "result_example",
]
