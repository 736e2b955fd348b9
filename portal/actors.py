"""Who is acting in a console request: the account and the address it came from."""

from django.http import HttpRequest

from hermod_core.proxies import client_address
from hermod_core.services.audit import Actor


def actor_from(request: HttpRequest) -> Actor:
    """The signed-in account (or "anonymous") and its address, as the API's budgets see it:
    ``X-Forwarded-For`` only through trusted proxies (``hermod_core.proxies``)."""
    user = request.user if request.user.is_authenticated else None
    name = user.get_username() if user is not None else "anonymous"
    return Actor(name=name, user=user, address=client_address(request) or None)
