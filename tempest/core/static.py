"""Which static files the project's app serves at ``STATIC_URL``, by the serving command.

``manage.py runserver`` serves each installed app's ``static/`` folder (Django's finders:
the first app in ``INSTALLED_APPS`` order that has the file wins); ``manage.py serve``
serves ``STATIC_ROOT`` (filled by ``manage.py collectstatic``) when it is set; an app
built elsewhere (tests, ``uvicorn shop.asgi:application``) serves none.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["STATIC_MODE_VARIABLE", "app_static_directories", "mount_static_files"]

STATIC_MODE_VARIABLE = "TEMPEST_STATIC_FILES"
"""Set by ``runserver`` (``apps``) and ``serve`` (``root``): which static files to mount."""


def app_static_directories() -> list[Path]:
    """The ``static/`` folder of each installed app that has one, in INSTALLED_APPS order."""
    from tempest.apps import apps

    found = []
    for config in apps.get_app_configs():
        folder = Path(config.path) / "static"
        if folder.is_dir():
            found.append(folder)
    return found


def mount_static_files(app: FastAPI, settings: Any, mode: str | None = None) -> None:
    """Mount the static files at ``STATIC_URL``, as the command serving the app asks.

    Args:
        app: The project's application.
        settings: The project settings (``STATIC_URL``, ``STATIC_ROOT``).
        mode: ``"apps"``: every installed app's ``static/`` folder (``runserver``);
            ``"root"``: ``STATIC_ROOT`` when it is set (``serve``); anything else:
            nothing. None: the ``TEMPEST_STATIC_FILES`` environment variable.
    """
    from tempest.api.staticfiles import HardenedStaticFiles

    if mode is None:
        mode = os.environ.get(STATIC_MODE_VARIABLE, "")
    url = "/" + settings.STATIC_URL.strip("/")
    if mode == "apps":
        folders = app_static_directories()
        if not folders:
            return
        files = HardenedStaticFiles(directory=folders[0], directories=folders[1:])
    elif mode == "root" and settings.STATIC_ROOT:
        files = HardenedStaticFiles(directory=settings.STATIC_ROOT)
    else:
        return
    app.mount(url, files, name="static")
