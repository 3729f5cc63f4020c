"""The browser pages, mounted at the site root (the landing page is ``/``)."""

from __future__ import annotations

from django.urls import URLPattern, path

from webapp.web import views

app_name = "web"

urlpatterns: list[URLPattern] = [
    path("", views.landing, name="landing"),
    path("signup/", views.signup, name="signup"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("account/password/", views.password_change, name="password-change"),
    path("account/token/", views.api_token, name="token"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("training/new/", views.training_new, name="training-new"),
    path("jobs/<uuid:pk>/", views.job_detail, name="job"),
    path("jobs/<uuid:pk>/cancel/", views.job_cancel, name="job-cancel"),
    path("models/<int:pk>/", views.model_detail, name="model"),
    path("models/<int:pk>/generate/", views.model_generate, name="model-generate"),
    path(
        "models/<int:pk>/set-default/",
        views.model_set_default,
        name="model-set-default",
    ),
    path("galleries/<int:pk>/", views.gallery_detail, name="gallery"),
    path("history/", views.history, name="history"),
    path("compare/", views.compare, name="compare"),
]
