"""Template filters of the console."""

import json
import re
from datetime import UTC, datetime
from typing import Any

from django import template
from django.urls import NoReverseMatch, reverse

from portal import guidance
from portal.callback_errors import callback_problem

register = template.Library()


@register.filter
def pretty_json(value: Any) -> str:
    """A stored JSON document, indented for reading (escaped by the template as usual)."""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False)


@register.inclusion_tag("portal/callbacks/_problem.html")
def callback_problem_of(delivery: Any) -> dict[str, Any]:
    """A delivery's failure summarised, with the raw detail folded (``portal.callback_errors``)."""
    return {
        "problem": callback_problem(
            state=delivery.state,
            attempts=delivery.attempts,
            max_attempts=delivery.max_attempts,
            last_error=delivery.last_error,
            last_status=delivery.last_status,
        )
    }


_ISO_MOMENT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")


def _text(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, str) and _ISO_MOMENT.match(value):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC)
        return f"{moment:%Y-%m-%d %H:%M:%S} UTC"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(_text(item) for item in value) or "none"
    if isinstance(value, dict):
        return "; ".join(f"{key.replace('_', ' ')}: {_text(item)}" for key, item in value.items())
    return str(value)


@register.filter
def audit_details(details: Any) -> list[tuple[str, str]]:
    """An audit event's details as (label, text) rows for a person: ``grace_seconds`` reads
    "grace seconds", lists are joined, nothing is a raw JSON dump."""
    if not isinstance(details, dict):
        return [("details", _text(details))] if details else []
    return [(str(key).replace("_", " "), _text(value)) for key, value in details.items()]


# The console page of each kind of audit target, by its id.
_TARGET_PAGES = {
    "client": ("portal:client_detail", str),
    "group": ("portal:group", str),
    "command": ("portal:command", int),
    "profile": ("portal:profile", str),
    "bulk_job": ("portal:bulk_job", int),
}
_TARGET_LISTS = {"invitation": "portal:invitations", "callback": "portal:callbacks"}


@register.filter
def audit_target_url(event: Any) -> str:
    """The console page of an audit event's target, or "" when it has none (or is gone)."""
    if event.target_type in _TARGET_LISTS:
        return reverse(_TARGET_LISTS[event.target_type])
    page = _TARGET_PAGES.get(event.target_type)
    if page is None or not event.target_id:
        return ""
    name, kind = page
    try:
        return reverse(name, args=[kind(event.target_id)])
    except (ValueError, NoReverseMatch):
        return ""


_LEGENDS = {
    "types": guidance.COMMAND_TYPES,
    "states": guidance.COMMAND_STATES,
    "destinations": guidance.DESTINATION_STATES,
    "callbacks": guidance.CALLBACK_STATES,
    "keys": guidance.KEY_HELP,
    "key_states": guidance.KEY_STATES,
    "profile_states": guidance.PROFILE_STATES,
    "box_token": guidance.BOX_TOKEN_STATES,
}


@register.simple_tag
def legend(name: str) -> dict[str, str]:
    """A legend of ``portal.guidance`` (``types``, ``states``, ``destinations``, ``callbacks``,
    ``keys``): ``{% legend "types" as rows %}``."""
    return _LEGENDS[name]


@register.filter
def meaning(code: str, name: str) -> str:
    """What a code means in a legend: ``{{ command.command_type|meaning:"types" }}``."""
    return _LEGENDS[name].get(str(code), "")
