"""Configuration of the Web Push app."""

from tempest.apps import AppConfig
from tempest.contrib.auth.users import DEFAULT_USER_MODEL, configured_user_model
from tempest.exceptions import ImproperlyConfigured


class WebPushConfig(AppConfig):
    """Push subscriptions of the users; the API is mounted under /api/webpush."""

    name = "tempest.contrib.webpush"
    label = "webpush"
    verbose_name = "Web Push"

    def ready(self) -> None:
        """Refuse a project whose user model is not the auth app's (see the docs)."""
        if configured_user_model() != DEFAULT_USER_MODEL:
            raise ImproperlyConfigured(
                "tempest.contrib.webpush stores subscriptions with a foreign key to "
                f"{DEFAULT_USER_MODEL!r}, but AUTH_USER_MODEL is "
                f"{configured_user_model()!r}: remove the app from INSTALLED_APPS and keep "
                "subscriptions in a model of your own (docs/topics/web-push.md shows how)."
            )
