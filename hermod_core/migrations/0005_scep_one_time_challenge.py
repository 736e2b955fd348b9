"""One-time SCEP challenges instead of the CA's static password in every template (issue 10).

Existing CA settings keep working exactly as before: a row with a challenge password gets the
``static`` mode (its templates still carry that password, so a CA that enforces it keeps issuing,
and the console and ``hermod_ca`` now warn about it until an operator switches to ``one-time``);
a row without one gets ``none`` (its templates carried nothing and still carry nothing). Only
CAs configured from now on default to ``one-time``. Reversing drops the new columns and table.
"""

from typing import Any

import django.db.models.deletion
from django.db import migrations, models


def keep_existing_behaviour(apps: Any, schema_editor: Any) -> None:
    CaSettings = apps.get_model("hermod_core", "CaSettings")
    CaSettings.objects.exclude(challenge_password="").update(challenge_mode="static")
    CaSettings.objects.filter(challenge_password="").update(challenge_mode="none")


class Migration(migrations.Migration):
    dependencies = [
        ("hermod_core", "0004_random_tokens"),
    ]

    operations = [
        migrations.AddField(
            model_name="casettings",
            name="challenge_mode",
            field=models.CharField(
                choices=[
                    ("none", "none (the CA needs no challenge)"),
                    ("one-time", "one-time (a fresh challenge per template, checked by Hermod)"),
                    ("static", "static (the CA's password in every template: insecure)"),
                ],
                default="one-time",
                max_length=10,
            ),
        ),
        migrations.RunPython(keep_existing_behaviour, migrations.RunPython.noop),
        migrations.AddField(
            model_name="casettings",
            name="verifier_created_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="casettings",
            name="verifier_hash",
            field=models.CharField(blank=True, db_index=True, max_length=64),
        ),
        migrations.CreateModel(
            name="CaChallenge",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("keyid", models.CharField(max_length=100)),
                ("challenge_hash", models.CharField(max_length=64, unique=True)),
                ("expires_at", models.DateTimeField()),
                ("consumed_at", models.DateTimeField(blank=True, null=True)),
                ("bound_key_thumbprint", models.CharField(blank=True, max_length=64)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "command",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="ca_challenges",
                        to="hermod_core.command",
                    ),
                ),
                (
                    "group",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="hermod_core.group",
                    ),
                ),
            ],
            options={
                "db_table": "hermod_ca_challenge",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("command", "keyid"), name="ca_challenge_per_key"
                    )
                ],
            },
        ),
    ]
