"""Random device tokens (issue: tokens must not be computable from the server secret and ids).

Until now a destination's one-time token and a permanent box's token were HMACs of
HERMOD_KEY_HASH_SECRET over the message or box id; the database held only their digests. From
now on every new token is random, and a one-time token is also kept sealed so that poll and
callback bodies can show its plug-out URI again.

Existing rows: every message's token is computed once more, the old way, and sealed, so that
the plug-out URIs of open messages keep working and their poll bodies show the same URI; those
tokens die with their messages as before. Existing box tokens keep working (their digests are
unchanged): devices rotate them with POST /ms/{bid}/token, and an install that ran with a
guessable secret should revoke them in the console (docs/security.md).
"""

import base64
import hashlib
import hmac
import uuid
from typing import Any

from cryptography.fernet import Fernet
from django.conf import settings
from django.db import migrations, models


def _mac(purpose: str, value: str) -> bytes:
    key = settings.HERMOD_KEY_HASH_SECRET.encode()
    return hmac.new(key, f"{purpose}:{value}".encode(), hashlib.sha256).digest()


def seal_existing_tokens(apps: Any, schema_editor: Any) -> None:
    Message = apps.get_model("hermod_core", "Message")
    # As services.credentials.seal(MESSAGE_TOKEN, …) at the time of this migration.
    sealer = Fernet(base64.urlsafe_b64encode(_mac("seal", "message-token")))
    pending = Message.objects.filter(token_sealed="").values_list("pk", flat=True)
    batch: list[Any] = []
    for mid in pending.iterator(chunk_size=2000):
        token = str(uuid.UUID(bytes=_mac("message-token", str(mid))[:16], version=4))
        batch.append(Message(pk=mid, token_sealed=sealer.encrypt(token.encode()).decode()))
        if len(batch) >= 2000:
            Message.objects.bulk_update(batch, ["token_sealed"])
            batch = []
    if batch:
        Message.objects.bulk_update(batch, ["token_sealed"])


class Migration(migrations.Migration):
    dependencies = [
        ("hermod_core", "0003_command_ca_pending"),
    ]

    operations = [
        migrations.AddField(
            model_name="message",
            name="token_sealed",
            field=models.TextField(blank=True),
        ),
        migrations.RunPython(seal_existing_tokens, migrations.RunPython.noop),
    ]
