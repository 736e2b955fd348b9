"""How console views answer: a page or just its fragment, polling that stops, errors for people."""

from typing import Any, TypeVar

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django_htmx.http import HTMX_STOP_POLLING

from hermod_core.crypto.errors import CryptoError
from hermod_core.protocol.errors import ProtocolError
from hermod_core.services.commands import CommandError
from hermod_core.services.errors import ServiceError

# Every exception a console action may show to the person who tried it.
PERSON_ERRORS = (ProtocolError, CommandError, ServiceError, CryptoError)

T = TypeVar("T")


def or_404(found: T | None) -> T:
    """What a selector found, or 404 (the selectors answer None for an unknown id)."""
    if found is None:
        raise Http404
    return found


def page_or_fragment(
    request: HttpRequest,
    page: str,
    fragment: str,
    context: dict[str, Any],
    *,
    status: int = 200,
) -> HttpResponse:
    """The whole page, or only its fragment when htmx asks (``HX-Request``); both share the
    fragment template, so they never drift apart (NetBox's ``htmx_partial``)."""
    template = fragment if getattr(request, "htmx", False) else page
    return render(request, template, context, status=status)


def paginate(request: HttpRequest, items: QuerySet[Any], per_page: int) -> tuple[Page[Any], str]:
    """The page named by ``?page=`` and the rest of the query string, for the page links to
    keep the list's filters."""
    page = Paginator(items, per_page).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return page, query.urlencode()


def live_fragment(
    request: HttpRequest, fragment: str, context: dict[str, Any], *, final: bool
) -> HttpResponse:
    """A polled fragment; once what it shows is final, HTTP 286 tells htmx to stop polling."""
    return render(request, fragment, context, status=HTMX_STOP_POLLING if final else 200)


def error_text(exc: Exception) -> str:
    """One sentence for the person, naming the field at fault when the protocol names one."""
    if isinstance(exc, ProtocolError | CommandError):
        return (
            f"{exc.message} ({exc.field})"
            if exc.field and exc.field not in exc.message
            else exc.message
        )
    if isinstance(exc, CryptoError):
        return exc.message
    return str(exc)


def attach_error(form: Form, exc: Exception) -> None:
    """Put a refused request's error on the form field it is about, when the protocol names a
    field the form has (``commandHeader.lifespan`` → ``lifespan``), else above the form."""
    field = getattr(exc, "field", "") or ""
    name = _FORM_FIELDS.get(field.rsplit(".", 1)[-1], "")
    form.add_error(name if name in form.fields else None, error_text(exc))


# The last part of a protocol field name → the provisioning form's field.
_FORM_FIELDS = {
    "lifespan": "lifespan",
    "timeout": "timeout",
    "externalId": "external_id",
    "userid": "userid",
    "servername": "servername",
    "name": "profile_name",
    "smartcardid": "smartcardid",
    "adminkey": "adminkey",
    "oldadminkey": "oldadminkey",
    "desktopKeyProtectionLevel": "protection_level",
}


def no_store(response: HttpResponse) -> HttpResponse:
    """For pages showing a secret once (a key, an invitation link): never cached."""
    response["Cache-Control"] = "no-store"
    return response
