from django.urls import path

from panel import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("domains/<int:pk>/", views.domain_detail, name="domain_detail"),
]
