"""A new password replaces the API token, whichever way it was changed (the
password page, the admin, ``manage.py changepassword``)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models.signals import pre_save
from django.dispatch import receiver

from webapp.accounts import services


@receiver(pre_save, sender=get_user_model())
def rotate_token_on_password_change(
    sender: type[Any], instance: Any, update_fields: Any = None, **kwargs: Any
) -> None:
    if instance.pk is None or (
        update_fields is not None and "password" not in update_fields
    ):
        return
    stored = (
        sender.objects.filter(pk=instance.pk).values_list("password", flat=True).first()
    )
    if stored is not None and stored != instance.password:
        services.rotate_api_token_if_any(instance)
