"""The building blocks of the OpenAPI 3.0 schema objects that describe the wire formats
(``obj``, ``string``, ``number`` …), and ``doc``: the documentation-only serializer class a view
names a body with, whose extension hands drf-spectacular the class's schema as written."""

import copy
from collections.abc import Iterable, Iterator
from typing import Any

from drf_spectacular.extensions import OpenApiSerializerExtension
from rest_framework import serializers

Schema = dict[str, Any]

_REF_PREFIX = "#/components/schemas/"


def ref(name: str) -> Schema:
    return {"$ref": f"{_REF_PREFIX}{name}"}


def use(name: str, description: str) -> Schema:
    """A component used as a property with its own description (OpenAPI 3.0 ignores siblings of
    ``$ref``, hence the one-element ``allOf``)."""
    return {"allOf": [ref(name)], "description": description}


def obj(
    description: str,
    properties: dict[str, Schema],
    *,
    required: Iterable[str] = (),
    kept: bool = False,
) -> Schema:
    """An object; ``kept``: unknown members are accepted and kept (docs/PROTOCOL.md §4.1)."""
    schema: Schema = {"type": "object", "description": description, "properties": properties}
    if required:
        schema["required"] = list(required)
    if kept:
        schema["additionalProperties"] = True
    return schema


def string(description: str, **constraints: Any) -> Schema:
    return {"type": "string", "description": description, **constraints}


def uuid(description: str) -> Schema:
    return string(description, format="uuid")


def array(description: str, items: Schema, **constraints: Any) -> Schema:
    return {"type": "array", "description": description, "items": items, **constraints}


def enum(description: str, values: Iterable[str]) -> Schema:
    return {"type": "string", "description": description, "enum": [str(v) for v in values]}


def number(
    description: str,
    *,
    values: Iterable[int] = (),
    minimum: int | None = None,
    maximum: int | None = None,
    default: int | None = None,
) -> Schema:
    """A number that integrations may also send as a string ("2048"): both are accepted."""
    as_number: Schema = {"type": "integer"}
    as_text: Schema = {"type": "string"}
    if values:
        as_number["enum"] = list(values)
        as_text["enum"] = [str(v) for v in values]
    else:
        as_text["pattern"] = "^[0-9]+$"
        if minimum is not None:
            as_number["minimum"] = minimum
        if maximum is not None:
            as_number["maximum"] = maximum
    schema: Schema = {
        "description": f"{description} A JSON number or the same number as a string.",
        "oneOf": [as_number, as_text],
    }
    if default is not None:
        schema["default"] = default
    return schema


def flag(description: str, *, default: bool | None = None) -> Schema:
    """A boolean that integrations usually send as the string "true" or "false"."""
    schema: Schema = {
        "description": f'{description} "true"/"false" (the documented spelling) or a JSON boolean.',
        "oneOf": [{"type": "boolean"}, {"type": "string", "enum": ["true", "false"]}],
    }
    if default is not None:
        schema["default"] = "true" if default else "false"
    return schema


# --- documentation-only serializers ------------------------------------------------------------


class Doc(serializers.Serializer):  # type: ignore[type-arg]
    """Stands for the component ``component`` in the document; never used on a request."""

    component = ""
    openapi: Schema = {}


def doc(component: str, schema: Schema) -> type[Doc]:
    return type(f"{component}Doc", (Doc,), {"component": component, "openapi": schema})


def refs(schema: Any) -> Iterator[str]:
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith(_REF_PREFIX):
            yield ref.removeprefix(_REF_PREFIX)
        for value in schema.values():
            yield from refs(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from refs(value)


class _DocExtension(OpenApiSerializerExtension):  # type: ignore[no-untyped-call]
    target_class = Doc
    match_subclasses = True

    def get_name(self, auto_schema: Any, direction: Any) -> str:
        # drf-spectacular appends "Request" to request bodies (COMPONENT_SPLIT_REQUEST).
        return str(self.target.component)

    def map_serializer(self, auto_schema: Any, direction: Any) -> Schema:
        return copy.deepcopy(self.target.openapi)
