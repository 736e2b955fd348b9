"""Template filters of the console."""

import json
from typing import Any

from django import template

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
