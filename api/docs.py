"""The OpenAPI schema and Swagger UI, served from this host (drf-spectacular-sidecar's assets,
no CDN). Both are public: they describe the API, not anyone's data."""

from django.templatetags.static import static
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import AllowAny


class SchemaView(SpectacularAPIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []


class DocsView(SpectacularSwaggerSplitView):
    permission_classes = [AllowAny]
    throttle_classes = []
    url_name = "api-schema"
    title = "mailadmin API"
    # drf-spectacular's page with its inline <style> moved to a file: the CSP allows no inline
    # style or script (the page's start-up script is already a separate URL, ?script=).
    template_name = "api/swagger_ui.html"

    @staticmethod
    def _swagger_ui_resource(filename):
        return static(f"drf_spectacular_sidecar/swagger-ui-dist/{filename}")

    @staticmethod
    def _swagger_ui_favicon():
        return static("drf_spectacular_sidecar/swagger-ui-dist/favicon-32x32.png")
