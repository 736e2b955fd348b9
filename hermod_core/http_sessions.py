"""Outbound HTTP from the workers (push relays and Web Push, content providers): one keep-alive
requests session per thread and per caller, since a session is not shared between threads and
each caller keeps its connections (and cookies) to itself."""

import threading

import requests

_local = threading.local()


def thread_session(caller: str) -> requests.Session:
    """This thread's session for ``caller`` (a fixed name per module), made on first use."""
    session: requests.Session | None = getattr(_local, caller, None)
    if session is None:
        session = requests.Session()
        setattr(_local, caller, session)
    return session
