"""Who is acting in a console request: the account and the address it came from."""

from django.http import HttpRequest

from hermod_core.services.console import ConsoleActor


def client_ip(request: HttpRequest) -> str:
    """The peer address. Behind a proxy this is the proxy's address unless the proxy sets
    REMOTE_ADDR (gunicorn's ``--forwarded-allow-ips``): a client-sent X-Forwarded-For is never
    trusted, since the login throttle keys on this value."""
    return str(request.META.get("REMOTE_ADDR") or "")


def actor_from(request: HttpRequest) -> ConsoleActor:
    user = request.user if request.user.is_authenticated else None
    name = user.get_username() if user is not None else "anonymous"
    return ConsoleActor(name=name, user=user, ip=client_ip(request) or None)
