"""Names of the environment variables tempest reads before any settings exist."""

ENVIRONMENT_VARIABLE = "TEMPEST_SETTINGS_MODULE"
"""Dotted path of the project's settings module, e.g. ``shop.settings``."""
