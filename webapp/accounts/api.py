"""Sign-up and token endpoints."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from webapp.accounts import services
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
    """Exchange a username and password for the account's API token."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = (AuthThrottle,)

    @extend_schema(request=AuthTokenSerializer, responses={200: TokenSerializer})
    def post(self, request: Request) -> Response:
        serializer = AuthTokenSerializer(
            data=request.data, context={"request": request}
        )
        serializer.is_valid(raise_exception=True)
        token = services.api_token(serializer.validated_data["user"])
        return Response({"token": token.key})
