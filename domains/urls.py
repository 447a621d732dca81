from django.contrib.auth import views as auth_views
from django.urls import path

from api import web as api_web
from domains import views

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.dashboard, name="dashboard"),
    path("domains/<int:pk>/", views.domain_detail, name="domain_detail"),
    path("account/api-keys/", api_web.api_keys, name="api_keys"),
    path("account/api-keys/<int:pk>/revoke/", api_web.api_key_revoke, name="api_key_revoke"),
    path("healthz", views.healthz, name="healthz"),
]
