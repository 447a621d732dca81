from django.urls import path, re_path
from rest_framework.routers import SimpleRouter

from api import docs, views

router = SimpleRouter()
router.register("domains", views.DomainViewSet, basename="domain")
router.register("alias-domains", views.AliasDomainViewSet, basename="alias-domain")
router.register("mailboxes", views.MailboxViewSet, basename="mailbox")
router.register("aliases", views.AliasViewSet, basename="alias")
router.register("relay-recipients", views.RelayRecipientViewSet, basename="relay-recipient")
router.register("sender-identities", views.SenderIdentityViewSet, basename="sender-identity")
router.register("quota-usage", views.QuotaUsageViewSet, basename="quota-usage")
router.register("resellers", views.ResellerViewSet, basename="reseller")
router.register("api-keys", views.APIKeyViewSet, basename="api-key")

urlpatterns = [
    path("me/", views.MeView.as_view(), name="api-me"),
    path("schema/", docs.SchemaView.as_view(), name="api-schema"),
    path("docs/", docs.DocsView.as_view(), name="api-docs"),
    *router.urls,
    # Anything else under /api/v1/ is a JSON 404, not the HTML page of the site.
    re_path(r"^.*$", views.NotFoundView.as_view(), name="api-not-found"),
]
