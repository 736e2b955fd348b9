"""The dashboard: counts, callback trouble and two charts, refreshing itself."""

from django.http import HttpRequest, HttpResponse

from hermod_core.selectors.console import STATES, dashboard_stats
from portal.charts import stacked_bars
from portal.rendering import page_or_fragment
from portal.roles import console_view


@console_view()
def dashboard(request: HttpRequest) -> HttpResponse:
    stats = dashboard_stats()
    charts = [
        stacked_bars(
            stats.per_minute,
            STATES,
            title="Commands per minute, last hour",
            label_every=10,
            label_format="%H:%M",
        ),
        stacked_bars(
            stats.per_hour,
            STATES,
            title="Commands per hour, last day",
            label_every=4,
            label_format="%H:00",
        ),
    ]
    return page_or_fragment(
        request,
        "portal/dashboard/index.html",
        "portal/dashboard/_stats.html",
        {"stats": stats, "charts": charts, "states": STATES},
    )
