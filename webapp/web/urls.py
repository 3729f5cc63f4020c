"""The browser pages, mounted at the site root (the landing page is ``/``)."""

from __future__ import annotations

from django.urls import URLPattern, path

from webapp.web.views import (
    accounts,
    compare,
    galleries,
    history,
    home,
    jobs,
    model_versions,
)

app_name = "web"

urlpatterns: list[URLPattern] = [
    path("", home.landing, name="landing"),
    path("signup/", accounts.signup, name="signup"),
    path("login/", accounts.LoginView.as_view(), name="login"),
    path("logout/", accounts.LogoutView.as_view(), name="logout"),
    path("account/password/", accounts.password_change, name="password-change"),
    path("account/token/", accounts.api_token, name="token"),
    path("account/token/revoke/", accounts.api_token_revoke, name="token-revoke"),
    path("dashboard/", home.dashboard, name="dashboard"),
    path("training/new/", jobs.training_new, name="training-new"),
    path("jobs/<uuid:pk>/", jobs.job_detail, name="job"),
    path("jobs/<uuid:pk>/cancel/", jobs.job_cancel, name="job-cancel"),
    path("models/<int:pk>/", model_versions.model_detail, name="model"),
    path(
        "models/<int:pk>/generate/",
        model_versions.model_generate,
        name="model-generate",
    ),
    path(
        "models/<int:pk>/set-default/",
        model_versions.model_set_default,
        name="model-set-default",
    ),
    path("galleries/<int:pk>/", galleries.gallery_detail, name="gallery"),
    path("history/", history.history, name="history"),
    path("compare/", compare.compare, name="compare"),
]
