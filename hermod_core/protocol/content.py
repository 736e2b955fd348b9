"""Content ids resolved by a client's content provider (docs/PROTOCOL.md §13), as pure functions.

A command may carry placeholders instead of content: an item of ``params.description[]`` or
``params.tbs[]`` with ``content_type: "application/hermod+content-id"`` and ``data: "<id>"``
(recommended ``AUTH:<uuid>``), or a provisioning ``profile.visualData.contentId``
(``PROV:<uuid>``). The server asks the provider (``POST <url>/getcontent`` with
``{"contentId": "<id>"}``) before a device may fetch the message. The stored command keeps the
ids; the device gets the body with the provider's answers merged in (``merge``).
"""

import base64
import binascii
import copy
import re
from dataclasses import dataclass
from typing import Any

from hermod_core.protocol.errors import ProtocolError

CONTENT_ID_TYPE = "application/hermod+content-id"
# A content id: printable ASCII without spaces, as an integrator writes ``AUTH:<uuid>``.
_CONTENT_ID = re.compile(r"[\x21-\x7e]{1,255}")
_MEDIA_TYPE = re.compile(r"[A-Za-z0-9][\w.+-]{0,62}/[A-Za-z0-9][\w.+-]{0,126}(;[^\r\n]{0,200})?")
MAX_CARD_IMAGES = 2

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class ContentRef:
    """One placeholder: where it is in the command object and the id the provider resolves.

    ``kind`` is ``item`` (a description/tbs item: the provider's members replace the item's)
    or ``visual`` (a provisioning's visualData: the provider's ``data`` list is the card).
    """

    path: Path
    content_id: str
    kind: str

    @property
    def field(self) -> str:
        """The dotted path of the placeholder's id, as error bodies name fields."""
        dotted = ""
        for part in self.path:
            dotted += f"[{part}]" if isinstance(part, int) else f".{part}"
        return dotted.lstrip(".") + (".data" if self.kind == "item" else ".contentId")


def is_content_id_item(item: Any) -> bool:
    return isinstance(item, dict) and item.get("content_type") == CONTENT_ID_TYPE


def check_content_id(value: Any, field: str) -> str:
    """A placeholder's id: 1–255 printable characters without spaces (else 400 naming it)."""
    if not isinstance(value, str) or not _CONTENT_ID.fullmatch(value):
        raise ProtocolError(
            "INVALID_CONTENT_ID",
            f"{field} must be a content id (1 to 255 printable characters, e.g. AUTH:<uuid>).",
            field,
        )
    return value


def content_refs(command_type: str, body: dict[str, Any], body_key: str) -> tuple[ContentRef, ...]:
    """Every placeholder of a command object, in body order. Ids are checked (400 otherwise)."""
    refs: list[ContentRef] = []
    if command_type in ("AUTH", "SIGN"):
        params = body.get("params")
        if isinstance(params, dict):
            for list_name in ("description", "tbs"):
                items = params.get(list_name)
                for index, item in enumerate(items if isinstance(items, list) else []):
                    if is_content_id_item(item):
                        ref = ContentRef(("params", list_name, index), "", "item")
                        content_id = check_content_id(item.get("data"), f"{body_key}.{ref.field}")
                        refs.append(ContentRef(ref.path, content_id, "item"))
    elif command_type == "PROV":
        profile = body.get("profile")
        for path, holder in ((("profile", "visualData"), profile), (("visualData",), body)):
            visual = holder.get("visualData") if isinstance(holder, dict) else None
            if isinstance(visual, dict) and "contentId" in visual:
                ref = ContentRef(path, "", "visual")
                content_id = check_content_id(visual["contentId"], f"{body_key}.{ref.field}")
                refs.append(ContentRef(path, content_id, "visual"))
    return tuple(refs)


def provider_request(content_id: str) -> dict[str, str]:
    """The body of ``POST <content-provider-url>/getcontent``."""
    return {"contentId": content_id}


class ProviderAnswerError(ValueError):
    """The provider's answer is not the documented shape; the message says what is wrong."""


def _base64_text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ProviderAnswerError(f"{what} must be base64 text")
    compact = "".join(value.split())
    try:
        base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise ProviderAnswerError(f"{what} is not valid base64") from None
    return compact


def _media_type(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _MEDIA_TYPE.fullmatch(value):
        raise ProviderAnswerError(f"{what} must be a media type such as image/jpeg")
    if value.lower().startswith(CONTENT_ID_TYPE):
        raise ProviderAnswerError(f"{what} must be the content's own type, not a content id")
    return value


def _encoding(value: Any, what: str) -> str:
    if value is None or value == "base64":
        return "base64"
    raise ProviderAnswerError(f"{what} must be base64")


def _content(raw: dict[str, Any], what: str) -> dict[str, Any]:
    return {
        "content_type": _media_type(raw.get("content_type"), f"{what}content_type"),
        "content_encoding": _encoding(raw.get("content_encoding"), f"{what}content_encoding"),
        "data": _base64_text(raw.get("data"), f"{what}data"),
    }


def parse_provider_answer(ref: ContentRef, raw: Any) -> dict[str, Any]:
    """What the provider answered for ``ref``, checked and reduced to the documented members.

    An item gets ``{"data", "content_type", "content_encoding"}``; a card layout
    ``{"data": [{"key", "content_type", "content_encoding", "data"}, ...]}`` (1–2 images).
    """
    if not isinstance(raw, dict):
        raise ProviderAnswerError("the answer is not a JSON object")
    if ref.kind == "item":
        return _content(raw, "")
    images = raw.get("data")
    if not isinstance(images, list) or not 1 <= len(images) <= MAX_CARD_IMAGES:
        raise ProviderAnswerError(f"data must be a list of 1 to {MAX_CARD_IMAGES} images")
    card = []
    for index, image in enumerate(images):
        if not isinstance(image, dict):
            raise ProviderAnswerError(f"data[{index}] must be an object")
        key = image.get("key")
        if not isinstance(key, str) or not 1 <= len(key) <= 100:
            raise ProviderAnswerError(f"data[{index}].key must be a name such as front or back")
        card.append({"key": key, **_content(image, f"data[{index}].")})
    return {"data": card}


def _holder(body: dict[str, Any], path: Path) -> Any:
    node: Any = body
    for part in path:
        node = node[part]
    return node


def merge(body: dict[str, Any], resolved: list[dict[str, Any]]) -> dict[str, Any]:
    """The command object a device receives: a copy of ``body`` with each placeholder replaced.

    ``resolved`` is ``[{"path": [...], "kind": "item" | "visual", "content": {...}}]`` as the
    resolution stored it. An item keeps its other members (``key``, ``description``,
    ``visible``) and takes the provider's ``data``, ``content_type`` and ``content_encoding``; a
    visualData loses its ``contentId`` and takes the provider's ``data`` (the card images).
    """
    if not resolved:
        return body
    merged = copy.deepcopy(body)
    for entry in resolved:
        path = tuple(entry["path"])
        target = _holder(merged, path)
        if entry["kind"] == "visual":
            target.pop("contentId", None)
            target["data"] = entry["content"]["data"]
        else:
            target.update(entry["content"])
    return merged
