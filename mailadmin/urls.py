"""The project's URLs: the two faces (the API under /api/v1/, the web panel at /), the login
they share, and the health check."""

from django.contrib.auth import views as auth_views
from django.urls import include, path

from mailadmin import views
from panel.views import account

urlpatterns = [
    path("api/v1/", include("api.urls")),
    path("account/api-keys/", include("api.web")),
    path("login/", account.PasswordLoginView.as_view(), name="login"),
    path("login/code/", account.login_code, name="login_code"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", views.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("panel.urls")),
]

handler400 = "api.errors.bad_request"
handler403 = "api.errors.permission_denied"
handler404 = "api.errors.page_not_found"
handler500 = "api.errors.server_error"
