"""What the console does to a profile's device besides commands: revoking its box token."""

from django.db import transaction

from hermod_core.models import Mailbox, MailboxKind, Profile
from hermod_core.services.audit import Actor, audit_record
from hermod_core.services.push import push_forget


@transaction.atomic
def box_token_revoke(*, actor: Actor, profile: Profile) -> bool:
    """Revoke the box token of a profile's permanent box: from the next request on, the device
    can no longer open its box (the profile stays; provision again to reconnect the device).
    True if there was a token to revoke."""
    revoked = (
        Mailbox.objects.filter(profile=profile, kind=MailboxKind.PERMANENT)
        .exclude(token_hash="")
        .update(token_hash="")
    )
    if revoked:
        # The device can no longer fetch: waking it would only tell it that something waits.
        push_forget(profile_id=profile.pk)
        audit_record(
            actor=actor,
            action="profile.revoke_box_token",
            about=profile,
        )
    return bool(revoked)
