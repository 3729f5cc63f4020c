"""Sign-up and token endpoints."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from webapp.accounts import services
from webapp.accounts.authentication import TokenAuthentication
from webapp.accounts.lockout import lockout_message, lockout_seconds
from webapp.accounts.serializers import RegisterSerializer, TokenSerializer
from webapp.throttles import AuthThrottle


class RegisterView(APIView):
    """Create an account and return its API token."""

    # No authentication: a logged-in browser session must not need a CSRF token
    # here, and the endpoint means the same thing for everyone.
    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = (AuthThrottle,)

    @extend_schema(request=RegisterSerializer, responses={201: TokenSerializer})
    def post(self, request: Request) -> Response:
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        _, token = services.register_user(
            serializer.validated_data["username"], serializer.validated_data["password"]
        )
        return Response({"token": token.key}, status=status.HTTP_201_CREATED)


class TokenView(APIView):
    """Exchange a username and password for the account's API token (POST), or
    revoke the token that authenticates the request (DELETE)."""

    throttle_classes = (AuthThrottle,)
    revoking = False

    def initialize_request(
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> Request:
        # Authentication depends on the method; DRF asks for the authenticators
        # while it builds its request (also for the schema's mock requests).
        self.revoking = request.method == "DELETE"
        return super().initialize_request(request, *args, **kwargs)

    def get_authenticators(self) -> list[BaseAuthentication]:
        # Exchanging a password needs no prior authentication (nor a CSRF token).
        if self.revoking:
            return [TokenAuthentication(), SessionAuthentication()]
        return []

    def get_permissions(self) -> list[BasePermission]:
        return [IsAuthenticated()] if self.revoking else [AllowAny()]

    @extend_schema(
        request=AuthTokenSerializer,
        responses={
            200: TokenSerializer,
            429: OpenApiResponse(
                description="Too many failed log-ins for this username or client."
            ),
        },
    )
    def post(self, request: Request) -> Response:
        serializer = AuthTokenSerializer(
            data=request.data, context={"request": request}
        )
        if not serializer.is_valid():
            # django-axes flags the request it was given when the failure locks
            # the username or address (or it was locked already).
            if getattr(request, "axes_locked_out", False):
                return Response(
                    {"detail": lockout_message()},
                    status=status.HTTP_429_TOO_MANY_REQUESTS,
                    headers={"Retry-After": str(lockout_seconds())},
                )
            raise ValidationError(serializer.errors)
        token = services.api_token(serializer.validated_data["user"])
        return Response({"token": token.key})

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request) -> Response:
        """Revoke your token: it stops working at once; POST makes a new one."""
        assert isinstance(request.user, AbstractBaseUser)  # IsAuthenticated ran
        services.revoke_api_token(request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
