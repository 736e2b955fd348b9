"""API routes under the configurable prefix (default /hermod/rest) and the unprefixed aliases."""

from django.urls import URLPattern, path

from hermod_core.api.ca_views import ChallengeVerifyView
from hermod_core.api.command_views import COMMAND_VIEWS, CancelView, PollView
from hermod_core.api.mailbox_views import BoxTokenView, BoxView, MessageView, PushView
from hermod_core.api.util_views import GenerateClientView

util_urlpatterns: list[URLPattern] = [
    path(
        "util/generateclient/<str:client_id>",
        GenerateClientView.as_view(),
        name="generateclient",
    ),
]

command_urlpatterns: list[URLPattern] = [
    *(path(name, view.as_view(), name=name) for name, view in COMMAND_VIEWS.items()),
    path("poll/<str:command_id>", PollView.as_view(), name="poll"),
    path("cancel/<str:command_id>", CancelView.as_view(), name="cancel"),
]

mailbox_urlpatterns: list[URLPattern] = [
    path("<str:bid>", BoxView.as_view(), name="box"),
    path("<str:bid>/token", BoxTokenView.as_view(), name="box-token"),
    path("<str:bid>/push", PushView.as_view(), name="box-push"),
    path("<str:bid>/<str:mid>", MessageView.as_view(), name="message"),
]

ca_urlpatterns: list[URLPattern] = [
    path("challenge/verify", ChallengeVerifyView.as_view(), name="challenge_verify"),
]
