"""API token authentication: DRF's, with the token and its user read by one
query compiled once per process."""

from __future__ import annotations

import functools
from typing import Any

from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token
from rest_framework.request import Request

from webapp.querysets import Placeholder, PreparedQuery


@functools.cache
def _fields(model: Any) -> list[str]:
    return [field.attname for field in model._meta.concrete_fields]


def credential_names(user_path: str, token_path: str) -> list[str]:
    """The ``values()`` names of a token's and its user's columns, reached from a
    query's model by these paths (``"user__"`` and ``""`` from the token)."""
    return [
        *(f"{token_path}{name}" for name in _fields(Token)),
        *(f"{user_path}{name}" for name in _fields(get_user_model())),
    ]


@functools.cache
def _token_query() -> PreparedQuery:
    return PreparedQuery(
        Token.objects.filter(
            key=Placeholder("key", Token._meta.pk), user__is_active=True
        ).values(*credential_names("user__", ""))
    )


class TokenAuthentication(authentication.TokenAuthentication):
    """``Authorization: Token <key>``, as DRF reads it.

    DRF's own lookup compiles its query anew for every request, which cost a
    quarter of a status poll. A key that finds no active user is handed to DRF,
    which refuses it in its own words.
    """

    def authenticate_credentials(self, key: str) -> tuple[Any, Token]:
        if "\x00" in key:  # no token holds one, and PostgreSQL refuses to compare it
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        row = _token_query().first(key=key)
        if row is None:
            return super().authenticate_credentials(key)
        return self.credentials(row, _token_query().using, "user__", "")

    def key(self, request: Request) -> str | None:
        """The key of the request's ``Authorization: Token <key>`` header, if it
        is well formed; None otherwise (`authenticate` says what is wrong)."""
        header = authentication.get_authorization_header(request).split()
        if len(header) != 2 or header[0].lower() != self.keyword.lower().encode():
            return None
        try:
            key = header[1].decode()
        except UnicodeError:
            return None
        return None if "\x00" in key else key

    @staticmethod
    def credentials(
        row: dict[str, Any], using: str, user_path: str, token_path: str
    ) -> tuple[Any, Token]:
        """The user and token of a row holding `credential_names`' columns (of an
        active user: the query read them so)."""
        user_model = get_user_model()
        user = user_model.from_db(
            using,
            _fields(user_model),
            [row[f"{user_path}{name}"] for name in _fields(user_model)],
        )
        token = Token.from_db(
            using,
            _fields(Token),
            [row[f"{token_path}{name}"] for name in _fields(Token)],
        )
        token.user = user
        return user, token

    def sign_in(self, request: Request, user: Any, token: Token) -> None:
        """Authenticate ``request`` as this authenticator would have with the
        token's key: for a view that read the token with what it serves."""
        # DRF's own record of it (Request.successful_authenticator), unannotated.
        request._authenticator = self  # type: ignore[attr-defined]
        request.user, request.auth = user, token
