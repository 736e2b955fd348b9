"""What the app shows its user: the images of a message (docs/PROTOCOL.md §13).

A real app displays the card images of a provisioning (``profile.visualData``) and the images
among a request's ``description``/``tbs`` items. The reference device records a summary of each
(key, content type, size, SHA-256), which `hermod-device show` prints, and refuses a message that
still carries a content id: the server must resolve every id before a device sees the message.
"""

from __future__ import annotations

import hashlib
from typing import Any, Final

from hermod_core.emulator.envelope import CODE_DEVICE_ERROR, Refusal, decode_b64

CONTENT_ID_TYPE: Final = "application/hermod+content-id"


def _summary(item: dict[str, Any], what: str) -> dict[str, Any]:
    data = decode_b64(item.get("data"), what)
    return {
        "key": str(item.get("key", "")),
        "content_type": str(item.get("content_type", "")),
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def _check_resolved(item: object, what: str) -> None:
    if isinstance(item, dict) and item.get("content_type") == CONTENT_ID_TYPE:
        raise Refusal(CODE_DEVICE_ERROR, f"{what} is an unresolved content id")


def request_images(params: dict[str, Any]) -> list[dict[str, Any]]:
    """The images among a request's description and tbs items, as the app displays them."""
    shown = []
    for list_name in ("description", "tbs"):
        items = params.get(list_name)
        for index, item in enumerate(items if isinstance(items, list) else []):
            what = f"params.{list_name}[{index}]"
            _check_resolved(item, what)
            if isinstance(item, dict) and str(item.get("content_type", "")).startswith("image/"):
                shown.append(_summary(item, what))
    return shown


def card_images(prov_command: dict[str, Any]) -> list[dict[str, Any]]:
    """The card images of a provisioning (``profile.visualData.data``), as the app keeps them."""
    profile = prov_command.get("profile")
    visual = profile.get("visualData") if isinstance(profile, dict) else None
    if not isinstance(visual, dict):
        return []
    if "contentId" in visual:
        raise Refusal(CODE_DEVICE_ERROR, "profile.visualData is an unresolved content id")
    images = visual.get("data")
    return [
        _summary(image, f"profile.visualData.data[{index}]")
        for index, image in enumerate(images if isinstance(images, list) else [])
        if isinstance(image, dict)
    ]
