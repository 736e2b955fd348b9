"""API routes under the configurable prefix (default /hermod/rest) and the unprefixed aliases."""

from django.urls import path

from hermod_core.api.util_views import GenerateClientView

util_urlpatterns = [
    path(
        "util/generateclient/<str:client_id>",
        GenerateClientView.as_view(),
        name="generateclient",
    ),
]

command_urlpatterns: list = []
mailbox_urlpatterns: list = []
