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
    share_links,
    shares,
    sweeps,
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
    path("dashboard/counts/", home.dashboard_counts, name="dashboard-counts"),
    path("dashboard/recent/", home.dashboard_recent, name="dashboard-recent"),
    path("training/new/", jobs.training_new, name="training-new"),
    path("jobs/<uuid:pk>/", jobs.job_detail, name="job"),
    path("jobs/<uuid:pk>/cancel/", jobs.job_cancel, name="job-cancel"),
    path("jobs/<uuid:pk>/rename/", jobs.job_rename, name="job-rename"),
    path("jobs/<uuid:pk>/delete/", jobs.job_delete, name="job-delete"),
    path("models/<int:pk>/", model_versions.model_detail, name="model"),
    path(
        "models/<int:pk>/samples/", model_versions.model_samples, name="model-samples"
    ),
    path("models/<int:pk>/rename/", model_versions.model_rename, name="model-rename"),
    path("models/<int:pk>/delete/", model_versions.model_delete, name="model-delete"),
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
    path("galleries/<int:pk>/rename/", galleries.gallery_rename, name="gallery-rename"),
    path("galleries/<int:pk>/delete/", galleries.gallery_delete, name="gallery-delete"),
    path("galleries/<int:pk>/share/", share_links.gallery_share, name="gallery-share"),
    path("models/<int:pk>/share/", share_links.model_share, name="model-share"),
    path("share-links/<int:pk>/revoke/", share_links.share_revoke, name="share-revoke"),
    # What a share link opens, to anyone: the token is the only key.
    path("s/<str:token>/", shares.share_page, name="share"),
    path("s/<str:token>/images/<int:pk>.png", shares.share_image, name="share-image"),
    path("s/<str:token>/sheet.png", shares.share_grid, name="share-grid"),
    path("s/<str:token>/images.zip", shares.share_zip, name="share-zip"),
    path("s/<str:token>/walk.gif", shares.share_gif, name="share-gif"),
    path("s/<str:token>/model.npz", shares.share_model_file, name="share-model-file"),
    path("s/<str:token>/samples/", shares.share_samples, name="share-samples"),
    path("history/", history.history, name="history"),
    path("sweeps/", sweeps.sweep_list, name="sweeps"),
    path("sweeps/<uuid:pk>/", sweeps.sweep_detail, name="sweep"),
    path("sweeps/<uuid:pk>/cancel/", sweeps.sweep_cancel, name="sweep-cancel"),
    path("sweeps/<uuid:pk>/sample/", sweeps.sweep_sample, name="sweep-sample"),
    path("compare/", compare.compare, name="compare"),
]
