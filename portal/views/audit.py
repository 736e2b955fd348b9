"""The audit log, filtered and paginated."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from hermod_core.selectors.console import audit_list
from portal.forms.audit import AuditFilterForm
from portal.rendering import paginate
from portal.roles import console_view

PAGE_SIZE = 100


@require_GET
@console_view()
def audit(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET)
    page, query = paginate(request, audit_list(form.filters()), PAGE_SIZE)
    return render(request, "portal/audit/list.html", {"form": form, "page": page, "query": query})
