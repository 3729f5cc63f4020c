"""What every per-owner model's queryset shares."""

from __future__ import annotations

from typing import TYPE_CHECKING, Self, TypeVar

from django.db import models

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

_M = TypeVar("_M", bound=models.Model)


class OwnedQuerySet(models.QuerySet[_M]):
    """Rows with an ``owner``: a user reads their own through ``for_owner``."""

    def for_owner(self, user: AbstractBaseUser | AnonymousUser) -> Self:
        return self.filter(owner_id=user.pk)
