"""Accounts: sign-up and API tokens."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from rest_framework.authtoken.models import Token


def register_user(username: str, password: str) -> tuple[AbstractBaseUser, Token]:
    """Create a user (inputs already validated) and their API token."""
    with transaction.atomic():
        user = get_user_model().objects.create_user(
            username=username, password=password
        )
        token = Token.objects.create(user_id=user.pk)
    return user, token


def api_token(user: AbstractBaseUser) -> Token:
    """The user's API token, created on first use."""
    token, _ = Token.objects.get_or_create(user_id=user.pk)
    return token


def user_api_token(user: AbstractBaseUser) -> Token | None:
    """The user's API token, or None after it was revoked."""
    return Token.objects.filter(user_id=user.pk).first()


def revoke_api_token(user: AbstractBaseUser) -> None:
    """Delete the user's API token; requests carrying it get 401 from now on."""
    Token.objects.filter(user_id=user.pk).delete()


def rotate_api_token(user: AbstractBaseUser) -> Token:
    """Replace the user's API token; the old one stops working at once."""
    with transaction.atomic():
        Token.objects.filter(user_id=user.pk).delete()
        return Token.objects.create(user_id=user.pk)


def rotate_api_token_if_any(user: AbstractBaseUser) -> None:
    """Replace the user's API token if they have one (their password changed)."""
    with transaction.atomic():
        if Token.objects.filter(user_id=user.pk).select_for_update().exists():
            rotate_api_token(user)
