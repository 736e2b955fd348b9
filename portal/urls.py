"""Console URLs, mounted under ``/console/``."""

from django.urls import path

from portal.views import (
    accounts,
    audit,
    bulk,
    callbacks,
    clients,
    commands,
    dashboard,
    groups,
    provision,
    pushes,
    users,
)
from portal.views.auth import (
    ConsoleLoginView,
    ConsoleLogoutView,
    login_throttle_clear_view,
    login_throttles,
)

app_name = "portal"

urlpatterns = [
    path("login/", ConsoleLoginView.as_view(), name="login"),
    path("logout/", ConsoleLogoutView.as_view(), name="logout"),
    path("sign-ins/throttled", login_throttles, name="login_throttles"),
    path(
        "sign-ins/throttled/<int:throttle_id>/clear",
        login_throttle_clear_view,
        name="login_throttle_clear",
    ),
    # console accounts (admins), and the public link of an account invitation
    path("accounts/", accounts.accounts, name="accounts"),
    path("accounts/new", accounts.account_create_view, name="account_create"),
    path("accounts/invite", accounts.account_invite_view, name="account_invite"),
    path("accounts/second-factor", accounts.console_mfa_rule_view, name="console_mfa_rule"),
    path("accounts/<int:user_id>/role", accounts.account_role_view, name="account_role"),
    path("accounts/<int:user_id>/enabled", accounts.account_enabled_view, name="account_enabled"),
    path("accounts/<int:user_id>/unlock", accounts.account_unlock_view, name="account_unlock"),
    path(
        "accounts/invitations/<int:invitation_id>/",
        accounts.account_invitation_page,
        name="account_invitation",
    ),
    path(
        "accounts/invitations/<int:invitation_id>/revoke",
        accounts.account_invitation_revoke_view,
        name="account_invitation_revoke",
    ),
    path("join/<str:token>", accounts.account_join, name="account_join"),
    path("", dashboard.dashboard, name="dashboard"),
    # clients
    path("clients/", clients.client_list, name="client_list"),
    path("clients/new", clients.client_create, name="client_create"),
    path("clients/import", clients.clients_import, name="clients_import"),
    path("clients/export", clients.clients_export, name="clients_export"),
    path("clients/generate", clients.client_generate, name="client_generate"),
    path("clients/<str:client_id>/", clients.client_detail, name="client_detail"),
    path("clients/<str:client_id>/key", clients.client_key, name="client_key"),
    path("clients/<str:client_id>/rotate", clients.client_rotate, name="client_rotate"),
    path("clients/<str:client_id>/delete", clients.client_delete, name="client_delete"),
    path("clients/<str:client_id>/enabled", clients.client_enabled, name="client_enabled"),
    path("clients/<str:client_id>/callback", clients.client_callback, name="client_callback"),
    path("clients/<str:client_id>/content", clients.client_content, name="client_content"),
    path(
        "clients/<str:client_id>/test-callback",
        clients.client_test_callback,
        name="client_test_callback",
    ),
    # groups
    path("groups/", groups.groups, name="groups"),
    path("groups/new", groups.group_create_view, name="group_create"),
    path("groups/<str:name>/", groups.group_page, name="group"),
    path("groups/<str:name>/rename", groups.group_rename_view, name="group_rename"),
    path("groups/<str:name>/delete", groups.group_delete_view, name="group_delete"),
    path("groups/<str:name>/keys", groups.group_key_add, name="group_key_add"),
    path(
        "groups/<str:name>/keys/<int:key_id>/remove",
        groups.group_key_remove,
        name="group_key_remove",
    ),
    path("groups/<str:name>/signer-cas", groups.group_signer_ca_add, name="group_signer_ca_add"),
    path(
        "groups/<str:name>/signer-cas/<int:ca_id>/remove",
        groups.group_signer_ca_remove,
        name="group_signer_ca_remove",
    ),
    path("groups/<str:name>/ca", groups.group_ca_save, name="group_ca_save"),
    path("groups/<str:name>/ca/ra", groups.group_ca_ra, name="group_ca_ra"),
    path("groups/<str:name>/ca/verifier", groups.group_ca_verifier, name="group_ca_verifier"),
    path("groups/<str:name>/ca/test", groups.group_ca_test, name="group_ca_test"),
    path("groups/<str:name>/push", pushes.group_push_save, name="group_push_save"),
    # users and profiles
    path("users/", users.users, name="users"),
    path("users/<str:group>/<str:userid>/", users.user_page, name="user"),
    path("profiles/<uuid:profile_id>/", users.profile_page, name="profile"),
    path(
        "profiles/<uuid:profile_id>/revoke-box-token",
        users.profile_revoke_box_token,
        name="profile_revoke_box_token",
    ),
    path(
        "profiles/<uuid:profile_id>/remove-push",
        pushes.profile_push_remove,
        name="profile_push_remove",
    ),
    # commands
    path("commands/", commands.commands, name="commands"),
    path("commands/<int:command_id>/", commands.command_page, name="command"),
    path("commands/<int:command_id>/live", commands.command_live, name="command_live"),
    path("commands/<int:command_id>/cancel", commands.command_cancel, name="command_cancel"),
    # callbacks
    path("callbacks/", callbacks.callbacks, name="callbacks"),
    path("callbacks/resend", callbacks.callback_resend_all, name="callback_resend_all"),
    path("callbacks/<int:delivery_id>/resend", callbacks.callback_resend, name="callback_resend"),
    path("pushes/", pushes.pushes, name="pushes"),
    # provisioning, invitations, bulk
    path("provision/", provision.provision, name="provision"),
    path("provision/<int:command_id>/", provision.provision_session, name="provision_session"),
    path("provision/<int:command_id>/status", provision.provision_status, name="provision_status"),
    path("invitations/", provision.invitations, name="invitations"),
    path("invitations/<int:invitation_id>/", provision.invitation, name="invitation"),
    path(
        "invitations/<int:invitation_id>/revoke",
        provision.invitation_revoke_view,
        name="invitation_revoke",
    ),
    path(
        "invitations/<int:invitation_id>/resend",
        provision.invitation_resend_view,
        name="invitation_resend",
    ),
    path("bulk/", bulk.bulk, name="bulk"),
    path("bulk/new", bulk.bulk_create, name="bulk_create"),
    path("bulk/<int:job_id>/", bulk.bulk_job, name="bulk_job"),
    path("bulk/<int:job_id>/progress", bulk.bulk_progress, name="bulk_progress"),
    path("bulk/<int:job_id>/result.csv", bulk.bulk_result, name="bulk_result"),
    path("bulk/<int:job_id>/requeue", bulk.bulk_requeue, name="bulk_requeue"),
    # audit
    path("audit/", audit.audit, name="audit"),
]
