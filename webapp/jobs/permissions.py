"""Object rules. Querysets already hide other users' rows (a 404); these guard
the objects a view does fetch."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request


class IsOwner(BasePermission):
    """Only the object's owner."""

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        return bool(obj.owner_id == request.user.pk)


class IsOwnerOrPublicReadOnly(BasePermission):
    """The owner; anyone else only reads, and only public objects."""

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        if obj.owner_id == request.user.pk:
            return True
        return request.method in SAFE_METHODS and bool(obj.is_public)
