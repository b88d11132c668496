"""Configuration of the admin app."""

from tempest.apps import AppConfig


class AdminConfig(AppConfig):
    """The admin site, mounted at /admin; each app's ``admin.py`` registers its models."""

    name = "tempest.contrib.admin"
    label = "admin"
    verbose_name = "Administration"
    api_prefix = "/admin"
