"""Console URLs, mounted under ``/console/``."""

from django.urls import URLPattern, URLResolver, include, path

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

# An area's pages under its prefix, and an object's under its id: ``include`` of a list keeps
# the "portal:" names.
_account_invitation = [
    path("", accounts.account_invitation_page, name="account_invitation"),
    path("revoke", accounts.account_invitation_revoke_view, name="account_invitation_revoke"),
]
_accounts: list[URLPattern | URLResolver] = [
    path("", accounts.accounts, name="accounts"),
    path("new", accounts.account_create_view, name="account_create"),
    path("invite", accounts.account_invite_view, name="account_invite"),
    path("second-factor", accounts.console_mfa_rule_view, name="console_mfa_rule"),
    path("<int:user_id>/role", accounts.account_role_view, name="account_role"),
    path("<int:user_id>/enabled", accounts.account_enabled_view, name="account_enabled"),
    path("<int:user_id>/unlock", accounts.account_unlock_view, name="account_unlock"),
    path("invitations/<int:invitation_id>/", include(_account_invitation)),
]
_client = [
    path("", clients.client_detail, name="client_detail"),
    path("key", clients.client_key, name="client_key"),
    path("rotate", clients.client_rotate, name="client_rotate"),
    path("delete", clients.client_delete, name="client_delete"),
    path("enabled", clients.client_enabled, name="client_enabled"),
    path("callback", clients.client_callback, name="client_callback"),
    path("content", clients.client_content, name="client_content"),
    path("test-callback", clients.client_test_callback, name="client_test_callback"),
]
_clients: list[URLPattern | URLResolver] = [
    path("", clients.client_list, name="client_list"),
    path("new", clients.client_create, name="client_create"),
    path("import", clients.clients_import, name="clients_import"),
    path("export", clients.clients_export, name="clients_export"),
    path("generate", clients.client_generate, name="client_generate"),
    path("<str:client_id>/", include(_client)),
]
_group = [
    path("", groups.group_page, name="group"),
    path("rename", groups.group_rename_view, name="group_rename"),
    path("delete", groups.group_delete_view, name="group_delete"),
    path("keys", groups.group_key_add, name="group_key_add"),
    path("keys/<int:key_id>/remove", groups.group_key_remove, name="group_key_remove"),
    path("signer-cas", groups.group_signer_ca_add, name="group_signer_ca_add"),
    path(
        "signer-cas/<int:ca_id>/remove",
        groups.group_signer_ca_remove,
        name="group_signer_ca_remove",
    ),
    path("ca", groups.group_ca_save, name="group_ca_save"),
    path("ca/ra", groups.group_ca_ra, name="group_ca_ra"),
    path("ca/verifier", groups.group_ca_verifier, name="group_ca_verifier"),
    path("ca/test", groups.group_ca_test, name="group_ca_test"),
    path("push", pushes.group_push_save, name="group_push_save"),
]
_groups: list[URLPattern | URLResolver] = [
    path("", groups.groups, name="groups"),
    path("new", groups.group_create_view, name="group_create"),
    path("<str:name>/", include(_group)),
]
_profile = [
    path("", users.profile_page, name="profile"),
    path("revoke-box-token", users.profile_revoke_box_token, name="profile_revoke_box_token"),
    path("remove-push", pushes.profile_push_remove, name="profile_push_remove"),
]
_commands = [
    path("", commands.commands, name="commands"),
    path("<int:command_id>/", commands.command_page, name="command"),
    path("<int:command_id>/live", commands.command_live, name="command_live"),
    path("<int:command_id>/cancel", commands.command_cancel, name="command_cancel"),
]
_provision = [
    path("", provision.provision, name="provision"),
    path("<int:command_id>/", provision.provision_session, name="provision_session"),
    path("<int:command_id>/status", provision.provision_status, name="provision_status"),
]
_invitations = [
    path("", provision.invitations, name="invitations"),
    path("<int:invitation_id>/", provision.invitation, name="invitation"),
    path("<int:invitation_id>/revoke", provision.invitation_revoke_view, name="invitation_revoke"),
    path("<int:invitation_id>/resend", provision.invitation_resend_view, name="invitation_resend"),
]
_bulk = [
    path("", bulk.bulk, name="bulk"),
    path("new", bulk.bulk_create, name="bulk_create"),
    path("<int:job_id>/", bulk.bulk_job, name="bulk_job"),
    path("<int:job_id>/progress", bulk.bulk_progress, name="bulk_progress"),
    path("<int:job_id>/result.csv", bulk.bulk_result, name="bulk_result"),
    path("<int:job_id>/requeue", bulk.bulk_requeue, name="bulk_requeue"),
]

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
    path("accounts/", include(_accounts)),
    path("join/<str:token>", accounts.account_join, name="account_join"),
    path("", dashboard.dashboard, name="dashboard"),
    path("clients/", include(_clients)),
    path("groups/", include(_groups)),
    # users and profiles
    path("users/", users.users, name="users"),
    path("users/<str:group>/<str:userid>/", users.user_page, name="user"),
    path("profiles/<uuid:profile_id>/", include(_profile)),
    path("commands/", include(_commands)),
    # callbacks and pushes
    path("callbacks/", callbacks.callbacks, name="callbacks"),
    path("callbacks/resend", callbacks.callback_resend_all, name="callback_resend_all"),
    path("callbacks/<int:delivery_id>/resend", callbacks.callback_resend, name="callback_resend"),
    path("pushes/", pushes.pushes, name="pushes"),
    # provisioning, invitations, bulk
    path("provision/", include(_provision)),
    path("invitations/", include(_invitations)),
    path("bulk/", include(_bulk)),
    path("audit/", audit.audit, name="audit"),
]
