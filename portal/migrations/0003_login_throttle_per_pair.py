"""The sign-in throttle keys on (account name, address) in the clear, with growing delays.

The old rows (hashed keys, hard locks) cannot be carried over and are only a few minutes of
state: the table is recreated empty.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("portal", "0002_console_roles")]

    operations = [
        migrations.DeleteModel(name="LoginThrottle"),
        migrations.CreateModel(
            name="LoginThrottle",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("username", models.CharField(blank=True, max_length=150)),
                ("ip", models.CharField(blank=True, max_length=64)),
                ("failures", models.PositiveIntegerField(default=0)),
                ("window_started_at", models.DateTimeField()),
                ("last_failed_at", models.DateTimeField()),
                ("blocked_until", models.DateTimeField(blank=True, null=True)),
            ],
            options={
                "db_table": "hermod_login_throttle",
                "constraints": [
                    models.UniqueConstraint(fields=("username", "ip"), name="login_throttle_unique")
                ],
            },
        ),
    ]
