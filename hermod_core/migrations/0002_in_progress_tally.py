"""The in-progress tally per client (models.commands.InProgressTally), filled from the commands
in progress when it is created."""

import django.db.models.deletion
from django.db import migrations, models

FILL = (
    "INSERT INTO hermod_in_progress_tally (client_id, slot, count) "
    "SELECT client_id, 0, count(*) FROM hermod_command WHERE state = 'IN_PROGRESS' "
    "GROUP BY client_id"
)


class Migration(migrations.Migration):
    dependencies = [
        ("hermod_core", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="InProgressTally",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("slot", models.SmallIntegerField()),
                ("count", models.IntegerField(default=0)),
                (
                    "client",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="hermod_core.client",
                    ),
                ),
            ],
            options={
                "db_table": "hermod_in_progress_tally",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("client", "slot"), name="in_progress_tally_slot"
                    )
                ],
            },
        ),
        migrations.RunSQL(FILL, migrations.RunSQL.noop),
    ]
