"""Configuration of the auth app."""

from pathlib import Path

from tempest.apps import AppConfig
from tempest.contrib.auth.users import DEFAULT_USER_MODEL, configured_user_model


class AuthConfig(AppConfig):
    """Users and sign-in; the API is mounted under /api/auth."""

    name = "tempest.contrib.auth"
    label = "auth"
    verbose_name = "Authentication"

    @property
    def migrations_path(self) -> Path:
        """The shipped revisions create the default user model's tables.

        With ``AUTH_USER_MODEL`` pointing at another app's model this app has no tables,
        and its revisions are left out (a folder that does not exist).
        """
        if configured_user_model() != DEFAULT_USER_MODEL:
            return self.path / "migrations-unused"
        return super().migrations_path
