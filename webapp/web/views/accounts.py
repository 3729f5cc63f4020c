"""Sign-up, log-in and -out, password change and the API token."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model, login, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from webapp.accounts import services as account_services
from webapp.accounts.serializers import RegisterSerializer
from webapp.middleware import throttled_response
from webapp.throttles import AuthThrottle
from webapp.web.forms import SignUpForm, add_serializer_errors
from webapp.web.views.shared import request_user


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    """Create an account with the API's registration rules, then log in."""
    if request.user.is_authenticated:
        return redirect("web:dashboard")
    form = SignUpForm(request.POST or None)
    status = 200
    if request.method == "POST":
        # The API's sign-up limit, per client address, shared with the API.
        throttle = AuthThrottle()
        if not throttle.allow_request(request, None):
            return throttled_response(throttle.wait())
        if form.is_valid():
            serializer = RegisterSerializer(
                data={
                    "username": form.cleaned_data["username"],
                    "password": form.cleaned_data["password"],
                }
            )
            if serializer.is_valid():
                user, _ = account_services.register_user(
                    serializer.validated_data["username"],
                    serializer.validated_data["password"],
                )
                assert isinstance(user, get_user_model())
                login(
                    request,
                    user,
                    backend="django.contrib.auth.backends.ModelBackend",
                )
                messages.success(
                    request,
                    f"Welcome, {user.get_username()}! Start with a fast preview "
                    "training run below.",
                )
                return redirect(f"{reverse('web:training-new')}?preset=preview")
            add_serializer_errors(form, serializer.errors)
        status = 400
    return render(
        request, "web/registration/signup.html", {"form": form}, status=status
    )


class LoginView(auth_views.LoginView):
    template_name = "web/registration/login.html"
    redirect_authenticated_user = True
    next_page = "web:dashboard"


class LogoutView(auth_views.LogoutView):
    """``GET`` asks (a page with a log-out button); ``POST`` logs out and says so."""

    next_page = "web:landing"
    http_method_names = ("get", "post", "options")
    template_name = "web/registration/logout.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return render(request, self.template_name)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        was_logged_in = request.user.is_authenticated
        response = super().post(request, *args, **kwargs)
        if was_logged_in:
            messages.success(request, "You have been logged out.")
        return response


@login_required
@require_http_methods(["GET", "POST"])
def password_change(request: HttpRequest) -> HttpResponse:
    """Django's password change, keeping the user logged in."""
    user = request_user(request)
    form = PasswordChangeForm(user, request.POST or None)  # type: ignore[arg-type]
    if request.method == "POST":
        if form.is_valid():
            user = form.save()
            update_session_auth_hash(request, user)
            messages.success(
                request,
                "Your password has been changed"
                + (
                    " and your API token replaced: scripts need the new one."
                    if account_services.user_api_token(user) is not None
                    else "."
                ),
            )
            return redirect("web:dashboard")
        return render(
            request, "web/registration/password_change.html", {"form": form}, status=400
        )
    return render(request, "web/registration/password_change.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def api_token(request: HttpRequest) -> HttpResponse:
    """Show the user's REST API token; POST creates or replaces it."""
    user = request_user(request)
    if request.method == "POST":
        replaced = account_services.user_api_token(user) is not None
        account_services.rotate_api_token(user)
        messages.success(
            request,
            "A new token was created; the old one no longer works."
            if replaced
            else "Your API token was created.",
        )
        return redirect("web:token")
    return render(
        request,
        "web/registration/token.html",
        {
            "token": account_services.user_api_token(user),
            "api_root": request.build_absolute_uri("/api/v1/"),
            "docs_url": "/api/docs/",
        },
    )


@login_required
@require_POST
def api_token_revoke(request: HttpRequest) -> HttpResponse:
    """Delete the user's API token without making a new one."""
    account_services.revoke_api_token(request_user(request))
    messages.success(
        request, "Your API token was revoked: it no longer works anywhere."
    )
    return redirect("web:token")
