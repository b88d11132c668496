"""Checks of the file storage settings (tag ``storage``).

- ``tempest.E040``: the default storage cannot be built: ``UPLOAD_STORAGE`` unknown, or S3
  asked for with ``MINIO_*`` settings missing or malformed (bucket name...).
- ``tempest.E041``: the local ``UPLOAD_DIR`` is not a writable folder and cannot be created.
- ``tempest.E042``: the S3 server refuses the settings (wrong access key or secret, wrong
  region, missing bucket): one signed request says which setting to fix.
- ``tempest.W043``: the S3 server does not answer (like ``tempest.W025`` for the database).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tempest.core.checks.messages import CheckMessage, Error, Warning
from tempest.core.checks.registry import register_check
from tempest.exceptions.framework import ImproperlyConfigured

__all__ = ["S3_CHECK_TIMEOUT", "STORAGE_TAG", "check_s3_credentials", "check_storage_settings"]

STORAGE_TAG = "storage"
"""The tag of these checks: ``manage.py check --tag storage``."""

S3_CHECK_TIMEOUT = 5.0
"""Seconds the S3 check waits for the server."""


_S3_SETTINGS = ("MINIO_SECRET_KEY", "MINIO_ACCESS_KEY", "MINIO_BUCKET", "MINIO_REGION")
"""The setting an E042 message is about: the first of these it names."""


def _settings() -> Any:
    from tempest.conf import settings

    return settings


def _unwritable(folder: Path) -> str | None:
    """Why ``folder`` cannot hold uploads, or None when it can (or can be created)."""
    path = folder.resolve()
    if path.exists():
        if not path.is_dir():
            return f"UPLOAD_DIR {str(folder)!r} is a file, not a folder."
        if not os.access(path, os.W_OK | os.X_OK):
            return f"UPLOAD_DIR {str(folder)!r} is not writable by this process."
        return None
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        return (
            f"UPLOAD_DIR {str(folder)!r} does not exist and cannot be created "
            f"({str(parent)!r} is not a writable folder)."
        )
    return None


@register_check("settings", STORAGE_TAG)
def check_storage_settings(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """The default storage can be built (tempest.E040) and UPLOAD_DIR written (tempest.E041)."""
    from tempest.storage.default import DEFAULT_UPLOAD_DIR, build_storage, storage_kind

    settings = _settings()
    try:
        kind = storage_kind(settings)
        build_storage(settings)
    except ImproperlyConfigured as error:
        return [
            Error(
                str(error),
                hint="Set the MINIO_* settings, or UPLOAD_STORAGE=local.",
                obj="UPLOAD_STORAGE",
                id="tempest.E040",
            )
        ]
    if kind != "local":
        return []
    folder = Path(getattr(settings, "UPLOAD_DIR", None) or DEFAULT_UPLOAD_DIR)
    problem = _unwritable(folder)
    if problem is None:
        return []
    return [
        Error(
            problem,
            hint="Point UPLOAD_DIR at a folder this process may write, or create it.",
            obj="UPLOAD_DIR",
            id="tempest.E041",
        )
    ]


@register_check(STORAGE_TAG)
def check_s3_credentials(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """The S3 server accepts the settings (tempest.E042) and answers (tempest.W043).

    Runs only when the default storage is S3 and its settings are complete: one signed
    request of at most :data:`S3_CHECK_TIMEOUT` seconds.
    """
    from tempest.storage.default import build_storage, storage_kind

    settings = _settings()
    try:
        if storage_kind(settings) != "s3":
            return []
        build_storage(settings)
    except ImproperlyConfigured:
        return []  # tempest.E040
    problems = _in_fresh_loop(_s3_problems(settings))
    messages: list[CheckMessage] = []
    for unreachable, text in problems:
        if unreachable:
            messages.append(
                Warning(text, hint="Start the server.", obj="MINIO_ENDPOINT", id="tempest.W043")
            )
        else:
            named = [name for name in _S3_SETTINGS if name in text]
            obj = named[0] if named else "MINIO_ACCESS_KEY"
            messages.append(Error(text, obj=obj, id="tempest.E042"))
    return messages


async def _s3_problems(settings: Any) -> list[tuple[bool, str]]:
    """(unreachable?, sentence) for each problem :func:`check_s3` found."""
    from tempest.storage.s3_check import check_s3

    found = await check_s3(settings, timeout=S3_CHECK_TIMEOUT)
    return [("cannot be reached" in text, text) for text in found]


def _in_fresh_loop(coroutine: Any) -> Any:
    """Run ``coroutine`` on a new event loop in a thread (a loop may run in this one)."""
    result: list[Any] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(coroutine))
        except BaseException as error:  # handed to the caller
            errors.append(error)

    thread = threading.Thread(target=target, name="tempest-s3-check")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return result[0]
