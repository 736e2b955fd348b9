"""The audit log, filtered and paginated."""

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from hermod_core.selectors.console import AuditFilters, audit_list
from portal.forms import AuditFilterForm
from portal.roles import console_view

PAGE_SIZE = 100


@require_GET
@console_view()
def audit(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET)
    data = form.cleaned_data if form.is_valid() else {}
    filters = AuditFilters(
        actor=data.get("actor") or "",
        action=data.get("action") or "",
        target=data.get("target") or "",
        group=data.get("group") or "",
        since=data.get("since"),
        until=data.get("until"),
    )
    page = Paginator(audit_list(filters), PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request, "portal/audit/list.html", {"form": form, "page": page, "query": query.urlencode()}
    )
