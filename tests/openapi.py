"""The served OpenAPI document (docs/PROTOCOL.md §2) as JSON, and checks of requests and real
answers against it: ``assert_conforms`` is how an API test shows an answer is one the document
promises."""

import json
from typing import Any

import jsonschema
from django.conf import settings
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer

PREFIX = f"/{settings.HERMOD_API_PREFIX}"


def generate() -> dict[str, Any]:
    document = SchemaGenerator().get_schema(request=None, public=True)
    # As served: lazy strings and enum members rendered to plain JSON.
    return json.loads(OpenApiJsonRenderer().render(document))


def operation(document: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    return document["paths"][f"{PREFIX}{path}"][method]


def resolved(node: Any, components: dict[str, Any], *, strict: bool = False) -> Any:
    """``node`` with every ``$ref`` inlined, as JSON Schema: ``nullable`` becomes a null
    alternative; ``strict`` also refuses members an object does not document."""
    if isinstance(node, list):
        return [resolved(item, components, strict=strict) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = node["$ref"].removeprefix("#/components/schemas/")
        return resolved(components[name], components, strict=strict)
    out = {
        key: value
        if key in ("example", "default", "enum")
        else resolved(value, components, strict=strict)
        for key, value in node.items()
    }
    if strict and out.get("type") == "object" and "additionalProperties" not in out:
        out["additionalProperties"] = False
    if out.pop("nullable", False):
        out = {"anyOf": [out, {"type": "null"}]}
    return out


def validate(document: dict[str, Any], node: dict[str, Any], instance: Any, **options: Any) -> None:
    json_schema = resolved(node, document["components"]["schemas"], **options)
    jsonschema.validate(
        instance,
        json_schema,
        cls=jsonschema.Draft7Validator,
        format_checker=jsonschema.FormatChecker(),
    )


def is_valid(document: dict[str, Any], node: dict[str, Any], instance: Any) -> bool:
    try:
        validate(document, node, instance)
    except jsonschema.ValidationError:
        return False
    return True


def request_schema(document: dict[str, Any], path: str) -> dict[str, Any]:
    body = operation(document, path, "post")["requestBody"]
    return dict(body["content"]["application/json"]["schema"])


def assert_conforms(document: dict[str, Any], method: str, path: str, response: Any) -> None:
    """The real response is one the document promises: a documented status, and a body valid
    against that status's schema with no undocumented member."""
    responses = operation(document, path, method)["responses"]
    assert str(response.status_code) in responses, (response.status_code, response.content)
    content = responses[str(response.status_code)]["content"]["application/json"]
    validate(document, content["schema"], response.json(), strict=True)
