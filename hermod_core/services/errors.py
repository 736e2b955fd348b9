"""The error a service raises for what a person asked and cannot be done."""


class ServiceError(Exception):
    """An operation that cannot be done; the message is written for the person who asked for it
    (in the console or on the command line) and is shown as is. Each entity's own error
    (``ClientError``, ``CaConfigurationError`` …) is one of these."""
