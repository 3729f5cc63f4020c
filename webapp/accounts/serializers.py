from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.validators import UniqueValidator

from webapp.jobs.maintenance import DEMO_USERNAME

User = get_user_model()


class RegisterSerializer(serializers.Serializer[Any]):
    username = serializers.CharField(
        max_length=150,
        validators=[
            UnicodeUsernameValidator(),
            UniqueValidator(
                queryset=User.objects.all(),
                lookup="iexact",
                message="A user with that username already exists.",
            ),
        ],
    )
    password = serializers.CharField(
        write_only=True, max_length=128, trim_whitespace=False
    )

    def validate_username(self, value: str) -> str:
        if value.lower() == DEMO_USERNAME:
            raise serializers.ValidationError("This username is reserved.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        try:
            validate_password(attrs["password"], user=User(username=attrs["username"]))
        except DjangoValidationError as error:
            raise serializers.ValidationError(
                {"password": list(error.messages)}
            ) from None
        return attrs


class TokenSerializer(serializers.Serializer[Any]):
    token = serializers.CharField(read_only=True)
