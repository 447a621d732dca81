"""The web panel's pages. Every page that names an object looks it up through a scoped selector,
so a foreign object is a 404 (panel/tests/test_isolation.py probes each pattern listed here)."""

from django.urls import path

from panel.views import (
    account,
    app_passwords,
    domains,
    hosts,
    mailboxes,
    owner,
    people,
    queue,
    users,
)

urlpatterns = [
    path("", domains.dashboard, name="dashboard"),
    path("domains/", domains.domain_list, name="domain_list"),
    path("domains/new/", domains.domain_create, name="domain_create"),
    path("domains/<int:pk>/", domains.domain_detail, name="domain_detail"),
    path("domains/<int:pk>/edit/", domains.domain_edit, name="domain_edit"),
    path("domains/<int:pk>/toggle/", domains.domain_toggle, name="domain_toggle"),
    path("domains/<int:pk>/verify/", domains.domain_verify, name="domain_verify"),
    path("domains/<int:pk>/delete/", domains.domain_delete, name="domain_delete"),
    path("domains/<int:pk>/mailboxes/new/", mailboxes.mailbox_create, name="mailbox_create"),
    path("domains/<int:pk>/aliases/new/", mailboxes.alias_create, name="alias_create"),
    path(
        "domains/<int:pk>/alias-domains/new/",
        domains.alias_domain_create,
        name="alias_domain_create",
    ),
    path("alias-domains/<int:pk>/delete/", domains.alias_domain_delete, name="alias_domain_delete"),
    path("mailboxes/<int:pk>/", mailboxes.mailbox_edit, name="mailbox_edit"),
    path("mailboxes/<int:pk>/password/", mailboxes.mailbox_password, name="mailbox_password"),
    path(
        "mailboxes/<int:pk>/app-passwords/",
        app_passwords.mailbox_app_passwords,
        name="mailbox_app_passwords",
    ),
    path(
        "app-passwords/<int:pk>/delete/",
        app_passwords.app_password_delete,
        name="app_password_delete",
    ),
    path("mailboxes/<int:pk>/toggle/", mailboxes.mailbox_toggle, name="mailbox_toggle"),
    path("mailboxes/<int:pk>/delete/", mailboxes.mailbox_delete, name="mailbox_delete"),
    path("mailboxes/<int:pk>/rename/", mailboxes.mailbox_rename, name="mailbox_rename"),
    path(
        "mailboxes/<int:pk>/senders/new/", mailboxes.sender_grant_create, name="sender_grant_create"
    ),
    path(
        "sender-grants/<int:pk>/delete/", mailboxes.sender_grant_delete, name="sender_grant_delete"
    ),
    path("aliases/<int:pk>/", mailboxes.alias_edit, name="alias_edit"),
    path("aliases/<int:pk>/toggle/", mailboxes.alias_toggle, name="alias_toggle"),
    path("aliases/<int:pk>/delete/", mailboxes.alias_delete, name="alias_delete"),
    path("resellers/", people.reseller_list_page, name="reseller_list"),
    path("resellers/new/", people.reseller_create, name="reseller_create"),
    path("resellers/<int:pk>/", people.reseller_edit, name="reseller_edit"),
    path("resellers/<int:pk>/toggle/", people.reseller_toggle, name="reseller_toggle"),
    path("audit/", people.audit_log, name="audit_log"),
    path("audit/export.csv", people.audit_export, name="audit_export"),
    path("users/", users.user_list_page, name="user_list"),
    path("users/new/", users.user_create, name="user_create"),
    path("users/<int:pk>/", users.user_edit, name="user_edit"),
    path("users/<int:pk>/password/", users.user_password, name="user_password"),
    path("users/<int:pk>/toggle/", users.user_toggle, name="user_toggle"),
    path("users/<int:pk>/delete/", users.user_delete, name="user_delete"),
    path("queue/", queue.queue_overview, name="queue_overview"),
    path("queue/<int:pk>/", queue.queue_host, name="queue_host"),
    path("queue/<int:pk>/messages/", queue.queue_messages, name="queue_messages"),
    path("queue/<int:pk>/action/", queue.queue_action, name="queue_action"),
    # Mail hosts and their operations (superadmins).
    path("hosts/", hosts.host_list, name="host_list"),
    path("hosts/reload/", hosts.host_reload_all, name="host_reload_all"),
    path("hosts/<int:pk>/reload/", hosts.host_reload, name="host_reload"),
    path("operations/", hosts.operation_list, name="operation_list"),
    path("operations/<int:pk>/retry/", hosts.operation_retry, name="operation_retry"),
    path("archives/<int:pk>/restore/", hosts.archive_restore, name="archive_restore"),
    path("account/password/", account.account_password, name="account_password"),
    path("account/two-factor/", account.two_factor, name="two_factor"),
    path("account/two-factor/recovery/", account.two_factor_recovery, name="two_factor_recovery"),
    path("account/two-factor/disable/", account.two_factor_disable, name="two_factor_disable"),
    path("security/two-factor/", account.two_factor_policy, name="two_factor_policy"),
    # The mailbox owner's own pages.
    path("mailbox/login/", owner.owner_login, name="owner_login"),
    path("mailbox/logout/", owner.owner_logout, name="owner_logout"),
    path("mailbox/", owner.owner_home, name="owner_home"),
    path("mailbox/password/", owner.owner_password, name="owner_password"),
    path("mailbox/app-passwords/", app_passwords.owner_app_passwords, name="owner_app_passwords"),
    path(
        "mailbox/app-passwords/<int:pk>/delete/",
        app_passwords.owner_app_password_delete,
        name="owner_app_password_delete",
    ),
]
