from django.contrib.auth import views as auth_views
from django.urls import path

from domains import views

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.dashboard, name="dashboard"),
    path("domains/<int:pk>/", views.domain_detail, name="domain_detail"),
    path("healthz", views.healthz, name="healthz"),
]
