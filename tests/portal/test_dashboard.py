"""The dashboard: counts by state and type, callback trouble, charts, self-refresh."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from hermod_core.models import CallbackDelivery, Command, DeliveryState
from hermod_core.protocol.commands import parse_command_request
from hermod_core.selectors.console import dashboard_stats
from hermod_core.services.commands import command_create
from tests.seeds import provisioning_command


def _prov(client) -> Command:
    return command_create(
        client=client, request=parse_command_request("provision", provisioning_command())
    )


def test_the_dashboard_counts_and_charts_commands(
    operator, client_a, django_assert_max_num_queries
) -> None:
    commands = [_prov(client_a.client) for _ in range(4)]
    now = timezone.now()
    Command.objects.filter(pk=commands[0].pk).update(state="COMPLETED", finished_at=now)
    Command.objects.filter(pk=commands[1].pk).update(
        state="FAILED", finished_at=now, created_at=now - timedelta(hours=3)
    )
    Command.objects.filter(pk=commands[2].pk).update(created_at=now - timedelta(days=3))
    CallbackDelivery.objects.filter(command=commands[1]).update(
        state=DeliveryState.EXHAUSTED, body={}, attempts=5
    )
    with django_assert_max_num_queries(8):
        response = operator.get(reverse("portal:dashboard"))
    stats = response.context["stats"]
    assert stats.by_state["IN_PROGRESS"] == 2
    assert stats.by_state["COMPLETED"] == 1
    assert stats.by_type["PROV"] == 4
    assert stats.in_progress == 2
    assert stats.callbacks_exhausted == 1
    assert sum(b.total for b in stats.per_minute) == 2  # the last hour
    assert sum(b.total for b in stats.per_hour) == 3  # the last day
    assert len(stats.per_minute) == 60
    assert len(stats.per_hour) == 24
    page = response.content.decode()
    assert page.count('<svg class="chart"') == 2
    assert 'class="series-COMPLETED"' in page
    assert 'hx-trigger="every 5s"' in page


def test_the_dashboard_refreshes_as_a_fragment(operator, client_a) -> None:
    _prov(client_a.client)
    response = operator.get(reverse("portal:dashboard"), HTTP_HX_REQUEST="true")
    page = response.content.decode()
    assert "<html" not in page
    assert 'id="stat-in-progress">1<' in page


def test_buckets_line_up_with_minutes_and_hours(client_a) -> None:
    now = timezone.now().replace(second=30, microsecond=0)
    command = _prov(client_a.client)
    Command.objects.filter(pk=command.pk).update(created_at=now - timedelta(minutes=5))
    stats = dashboard_stats(now=now)
    counted = [b for b in stats.per_minute if b.total]
    assert len(counted) == 1
    assert counted[0].start == (now - timedelta(minutes=5)).replace(second=0)
    assert counted[0].counts["IN_PROGRESS"] == 1
    assert stats.per_minute[-1].start == now.replace(second=0)
    assert stats.per_hour[-1].start == now.replace(minute=0, second=0)
