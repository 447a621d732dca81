from django.urls import path, re_path
from rest_framework.routers import SimpleRouter

from api import docs, hosts, queue, views

router = SimpleRouter()
router.register("domains", views.DomainViewSet, basename="domain")
router.register("alias-domains", views.AliasDomainViewSet, basename="alias-domain")
router.register("mailboxes", views.MailboxViewSet, basename="mailbox")
router.register("aliases", views.AliasViewSet, basename="alias")
router.register("relay-recipients", views.RelayRecipientViewSet, basename="relay-recipient")
router.register("sender-identities", views.SenderIdentityViewSet, basename="sender-identity")
router.register("quota-usage", views.QuotaUsageViewSet, basename="quota-usage")
router.register("resellers", views.ResellerViewSet, basename="reseller")
router.register("users", views.UserViewSet, basename="user")
router.register("api-keys", views.APIKeyViewSet, basename="api-key")
router.register("audit-events", views.AuditEventViewSet, basename="audit-event")
router.register("trash", views.TrashViewSet, basename="trash")
# Mail hosts and their work (superadmins only: 403 for every other caller).
router.register("hosts", hosts.HostViewSet, basename="host")
router.register("operations", hosts.OperationViewSet, basename="operation")
router.register("maildir-archives", hosts.ArchiveViewSet, basename="maildir-archive")

urlpatterns = [
    path("me/", views.MeView.as_view(), name="api-me"),
    path("schema/", docs.SchemaView.as_view(), name="api-schema"),
    path("docs/", docs.DocsView.as_view(), name="api-docs"),
    path("audit-events/export.csv", views.AuditExportView.as_view(), name="api-audit-export"),
    *router.urls,
    path("queue/", queue.QueueOverviewView.as_view(), name="api-queue"),
    path("queue/hosts/<int:pk>/", queue.QueueHostView.as_view(), name="api-queue-host"),
    path(
        "queue/hosts/<int:pk>/messages/",
        queue.QueueMessagesView.as_view(),
        name="api-queue-messages",
    ),
    path("queue/hosts/<int:pk>/actions/", queue.QueueActionView.as_view(), name="api-queue-action"),
    # Anything else under /api/v1/ is a JSON 404, not the HTML page of the site.
    re_path(r"^.*$", views.NotFoundView.as_view(), name="api-not-found"),
]
