"""Migration 0005: existing CAs keep their behaviour (static password stays static, none stays
none); only new CAs default to one-time challenges."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("hermod_core", "0004_random_tokens")]
AFTER = [("hermod_core", "0005_scep_one_time_challenge")]


@pytest.mark.django_db(transaction=True)
def test_existing_cas_keep_what_their_templates_carried() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    Group, CaSettings = (
        old.get_model("hermod_core", "Group"),
        old.get_model("hermod_core", "CaSettings"),
    )
    with_password = CaSettings.objects.create(
        group=Group.objects.create(name="static"),
        scep_url="http://ca/scep",
        challenge_password="pw",
    )
    without = CaSettings.objects.create(
        group=Group.objects.create(name="open"), scep_url="http://ca/scep"
    )

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps.get_model("hermod_core", "CaSettings")
    migrated = {row.pk: (row.challenge_mode, row.challenge_password) for row in new.objects.all()}

    assert migrated == {with_password.pk: ("static", "pw"), without.pk: ("none", "")}
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
