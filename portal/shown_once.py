"""A secret shown once after a POST → redirect → GET (a new API key, an invitation link).

The POST that creates something redirects to its result page, so that a reload never creates it
twice; the secret it produced must reach that page without being in the URL. It waits in the
signed-in session (server-side), sealed, under the kind and id of what it belongs to, and the
first GET of that page takes it out: a reload of the result page finds nothing and says the
secret was shown once.
"""

from django.http import HttpRequest

from hermod_core.services.credentials import seal, unseal

_PURPOSE = "console-shown-once"
_SESSION_KEY = "hermod-shown-once"


def _slot(kind: str, ident: object) -> str:
    return f"{kind}:{ident}"


def stash(request: HttpRequest, kind: str, ident: object, secret: str) -> None:
    """Keep ``secret`` for the next GET of the result page of ``kind`` ``ident``."""
    waiting = dict(request.session.get(_SESSION_KEY) or {})
    waiting[_slot(kind, ident)] = seal(_PURPOSE, secret)
    request.session[_SESSION_KEY] = waiting


def take(request: HttpRequest, kind: str, ident: object) -> str:
    """The secret stashed for this page, once; "" on every later call."""
    waiting = dict(request.session.get(_SESSION_KEY) or {})
    sealed = waiting.pop(_slot(kind, ident), "")
    if sealed:
        request.session[_SESSION_KEY] = waiting
    return unseal(_PURPOSE, sealed)
