"""What the two outboxes (callbacks, pushes) keep of each delivery besides what it sends."""

from django.db import models


class OutboxRow(models.Model):
    """A delivery retried until it gets through or runs out of attempts: how many were made and
    are allowed, when the next is due, what the last one got back, and when it got through."""

    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField()
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
