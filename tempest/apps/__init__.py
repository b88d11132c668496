"""Installed apps: :class:`AppConfig` and the registry ``apps``."""

from tempest.apps.config import DISCOVERED_MODULES, AppConfig
from tempest.apps.registry import Apps, apps

__all__ = ["DISCOVERED_MODULES", "AppConfig", "Apps", "apps"]
