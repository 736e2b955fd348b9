"""Push: waking a device's app when a message waits in its box (issue 12).

Pure provider clients (no models, no Django settings): each takes a ``PushTarget`` and a
``PushNotice`` and returns a ``PushResult``; services decide what the result means for the
outbox row (retry, done, registration removed).
"""
