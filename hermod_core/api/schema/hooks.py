"""drf-spectacular's pre- and post-processing hooks, listed in ``SPECTACULAR_SETTINGS``."""

import copy
from typing import Any

from django.conf import settings

from hermod_core.api.schema.blocks import Schema, refs
from hermod_core.api.schema.components import COMPONENTS

_PREFIX = f"/{settings.HERMOD_API_PREFIX}" if settings.HERMOD_API_PREFIX else ""


def hide_path_aliases(endpoints: list[tuple[str, str, str, Any]], **kwargs: Any) -> list[Any]:
    """drf-spectacular PREPROCESSING_HOOKS entry: document each view once, under the prefix.

    The unprefixed ``/command/...``, ``/ms/...``, ``/ca/...`` and ``/util/...`` routes
    (docs/PROTOCOL.md §2) serve
    the same views; listed twice they would double every operation and clash on operationId.
    The operations' descriptions mention the alias instead.
    """
    if not _PREFIX:
        return endpoints
    served = {(path, method) for path, _, method, _ in endpoints}
    return [e for e in endpoints if (f"{_PREFIX}{e[0]}", e[2]) not in served]


def add_components(result: Schema, **kwargs: Any) -> Schema:
    """drf-spectacular POSTPROCESSING_HOOKS entry: add every ``COMPONENTS`` schema the document
    refers to, and those they refer to, once; components stay sorted by name as drf-spectacular
    sorts its own. Listed after drf-spectacular's enum hook, which rebuilds the components from
    its registry. Copies, so that nothing done to the document reaches ``COMPONENTS``.
    """
    schemas: Schema = result.setdefault("components", {}).setdefault("schemas", {})
    pending = list(refs(result))
    while pending:
        name = pending.pop()
        if name not in schemas and name in COMPONENTS:
            schemas[name] = copy.deepcopy(COMPONENTS[name])
            pending.extend(refs(COMPONENTS[name]))
    result["components"]["schemas"] = dict(sorted(schemas.items()))
    return result
