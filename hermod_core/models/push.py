"""Push (docs/PROTOCOL.md §14): a group's providers, a profile's registration, the push outbox."""

from django.db import models

from hermod_core.models.clients import Group, validate_http_url
from hermod_core.models.mailboxes import Message
from hermod_core.models.outbox import OutboxRow
from hermod_core.models.profiles import Profile


class PushProviderName(models.TextChoices):
    """The provider a device names in ``PUT /ms/{bid}/push``, spelled as on the wire."""

    RELAY = "relay"
    WEBPUSH = "webpush"
    FCM = "fcm"
    APNS = "apns"


class RelayAuth(models.TextChoices):
    NONE = "none"
    BASIC = "basic"
    BEARER = "bearer"


class GroupPushSettings(models.Model):
    """How one group wakes its devices; a provider is on when what it needs is set.

    Secrets (the relay's credential, the VAPID private key, the FCM service account, the APNs
    ``.p8`` key) are kept sealed (``services.credentials.seal``, purpose ``push-secret``): the
    server must present them, so they cannot be hashed; the console never shows them back.
    """

    group = models.OneToOneField(Group, on_delete=models.CASCADE, related_name="push_settings")
    # Shown on the phone as who asks: the real product's ``requestor``; blank: the client id.
    requestor = models.CharField(max_length=100, blank=True)
    relay_url = models.CharField(max_length=500, blank=True, validators=[validate_http_url])
    relay_auth = models.CharField(max_length=6, choices=RelayAuth.choices, default=RelayAuth.NONE)
    relay_credential_sealed = models.TextField(blank=True)
    webpush_enabled = models.BooleanField(default=False)
    vapid_private_sealed = models.TextField(blank=True)
    vapid_public = models.CharField(max_length=100, blank=True)
    vapid_subject = models.CharField(max_length=200, blank=True)
    fcm_service_account_sealed = models.TextField(blank=True)
    apns_key_sealed = models.TextField(blank=True)
    apns_key_id = models.CharField(max_length=20, blank=True)
    apns_team_id = models.CharField(max_length=20, blank=True)
    apns_topic = models.CharField(max_length=200, blank=True)
    apns_sandbox = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "hermod_group_push_settings"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(relay_auth="none") | ~models.Q(relay_credential_sealed=""),
                name="push_relay_auth_has_credential",
            ),
        ]

    def __str__(self) -> str:
        return f"push settings of {self.group_id}"

    def providers(self) -> set[str]:
        """The providers this group can send through."""
        on = set()
        if self.relay_url:
            on.add(PushProviderName.RELAY.value)
        if self.webpush_enabled and self.vapid_private_sealed:
            on.add(PushProviderName.WEBPUSH.value)
        if self.fcm_service_account_sealed:
            on.add(PushProviderName.FCM.value)
        if self.apns_key_sealed and self.apns_key_id and self.apns_team_id and self.apns_topic:
            on.add(PushProviderName.APNS.value)
        return on


class PushRegistration(models.Model):
    """Where the device of one profile asked to be woken (``PUT /ms/{bid}/push``).

    One per profile: a new PUT replaces it. The provider's address of the app (``token``: a device
    token, an FCM registration token, or a Web Push subscription with its keys as JSON) is kept
    sealed: a subscription's ``auth`` secret lets anyone who holds it write to the device.
    ``fingerprint`` (a keyed hash, first 12 hex) lets the console tell two tokens apart.
    """

    profile = models.OneToOneField(Profile, on_delete=models.CASCADE, related_name="push")
    provider = models.CharField(max_length=10, choices=PushProviderName.choices)
    token_sealed = models.TextField()
    fingerprint = models.CharField(max_length=12)
    os = models.CharField(max_length=20)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "hermod_push_registration"

    def __str__(self) -> str:
        return f"{self.provider} push of {self.profile_id}"


class PushState(models.TextChoices):
    WAITING = "WAITING"  # the message is not visible yet (content being resolved)
    PENDING = "PENDING"  # due at next_attempt_at
    DELIVERED = "DELIVERED"  # the provider accepted the notice
    EXHAUSTED = "EXHAUSTED"  # every attempt failed transiently; the device can still poll
    FAILED = "FAILED"  # the provider refused the notice for good (credentials, bad request)
    UNREGISTERED = "UNREGISTERED"  # the token is dead: the registration was removed
    SKIPPED = "SKIPPED"  # nothing to wake any more (fetched, answered, expired, unregistered)


class PushDelivery(OutboxRow):
    """A push to send, the ledger of the push outbox: at most one per message.

    Written in the same transaction as its message, so a queued message is never without its
    push and a rolled-back command leaves none. The unique ``message`` is what makes a second
    push for the same message impossible; ``provider`` is the one chosen when it was written.
    """

    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="push")
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="+")
    profile = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="pushes")
    provider = models.CharField(max_length=10, choices=PushProviderName.choices)
    state = models.CharField(max_length=12, choices=PushState.choices, default=PushState.PENDING)

    class Meta:
        db_table = "hermod_push_delivery"
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="push_due"),
            models.Index(fields=["group", "-id"], name="push_by_group"),
            # /metrics reads the pushes of a recent window by creation time.
            models.Index(fields=["created_at"], name="push_by_created"),
        ]

    def __str__(self) -> str:
        return f"push of {self.message_id} ({self.state})"
