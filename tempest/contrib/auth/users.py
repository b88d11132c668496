"""Which model is the project's user model (``AUTH_USER_MODEL``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tempest.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from tempest.contrib.auth.base import BaseUserModel

__all__ = ["DEFAULT_USER_MODEL", "configured_user_model", "get_user_model"]

DEFAULT_USER_MODEL = "auth.User"


def configured_user_model() -> str:
    """The ``AUTH_USER_MODEL`` setting (``"<app label>.<class name>"``)."""
    from tempest.conf import settings

    return str(getattr(settings, "AUTH_USER_MODEL", DEFAULT_USER_MODEL))


def get_user_model() -> type[BaseUserModel]:
    """The project's user model class.

    Raises:
        ImproperlyConfigured: ``AUTH_USER_MODEL`` is malformed, names an app that is not
            installed, or a class that is not a ``BaseUserModel`` of that app.
    """
    from tempest.apps import apps
    from tempest.contrib.auth.base import BaseUserModel

    dotted = configured_user_model()
    label, _, class_name = dotted.partition(".")
    if not label or not class_name or "." in class_name:
        raise ImproperlyConfigured(
            f"AUTH_USER_MODEL must be '<app label>.<class name>', not {dotted!r}."
        )
    installed = [config.label for config in apps.get_app_configs()]
    if label not in installed:
        raise ImproperlyConfigured(
            f"AUTH_USER_MODEL refers to app {label!r}, which is not installed "
            f"(installed: {', '.join(installed) or 'none'})."
        )
    for model in apps.get_models(label):
        if model.__name__ == class_name:
            if not issubclass(model, BaseUserModel):
                raise ImproperlyConfigured(
                    f"AUTH_USER_MODEL {dotted!r} must subclass "
                    "tempest.contrib.auth.base.BaseUserModel."
                )
            return model
    names = ", ".join(sorted(model.__name__ for model in apps.get_models(label))) or "none"
    raise ImproperlyConfigured(
        f"AUTH_USER_MODEL refers to {dotted!r}, but app {label!r} has no such model "
        f"(its models: {names})."
    )
