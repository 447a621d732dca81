from django.urls import include, path

urlpatterns = [
    path("api/v1/", include("api.urls")),
    path("", include("domains.urls")),
]

handler400 = "api.errors.bad_request"
handler403 = "api.errors.permission_denied"
handler404 = "api.errors.page_not_found"
handler500 = "api.errors.server_error"
