"""New random secrets written into a ``.env`` file: what ``secrets rotate`` does.

The file is rewritten atomically (a temporary file in the same folder, then
:func:`os.replace`), keeping every other line, comment and the order; keys it lacks are
appended. The previous file is copied first to ``<file>.bak.<UTC time>`` with mode 0600.
The old ``JWT_SECRET`` and ``SECRET_KEY`` move into ``JWT_SECRET_FALLBACKS`` and
``SECRET_KEY_FALLBACKS`` with a date (see :mod:`tempest.conf.rotation`), so that tokens
issued before the rotation keep working until then.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import stat
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tempest.core.management.base import CommandError

DEFAULT_KEYS: tuple[str, ...] = ("SECRET_KEY", "JWT_SECRET", "ADMIN_SECRET_KEY")
"""The keys rotated when ``--keys`` is not given."""

FALLBACK_SETTINGS: dict[str, str] = {
    "JWT_SECRET": "JWT_SECRET_FALLBACKS",
    "SECRET_KEY": "SECRET_KEY_FALLBACKS",
}
"""Keys whose previous value is kept for a grace period, and the setting that keeps it."""

MIN_LENGTH = 32
"""The shortest value ``--length`` accepts (HS256 needs a 32-byte secret)."""

DEFAULT_LENGTH = 64
"""Characters of a new value by default (enough for HS512)."""

_KEY = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_LINE = re.compile(r"^(?P<head>\s*(?:export\s+)?)(?P<key>[A-Za-z_][A-Za-z0-9_]*)\s*=(?P<value>.*)$")


@dataclass
class Rotation:
    """What a rotation changes in a ``.env`` file.

    Attributes:
        values: Each rotated key and its new value.
        fallbacks: Each ``*_FALLBACKS`` setting and its new value (JSON text).
        kept: The keys whose previous value still verifies until ``until``.
        until: The end of the grace period, or None when nothing is kept.
    """

    values: dict[str, str]
    fallbacks: dict[str, str] = field(default_factory=dict)
    kept: list[str] = field(default_factory=list)
    until: datetime | None = None

    def lines(self) -> list[str]:
        """The ``KEY=value`` lines to write, rotated keys first."""
        return [f"{key}={value}" for key, value in {**self.values, **self.fallbacks}.items()]


def parse_keys(text: str | None) -> list[str]:
    """The keys of ``--keys K1,K2`` (default :data:`DEFAULT_KEYS`).

    Raises:
        CommandError: A name is not an environment variable name, or names a fallback
            setting (exit status 2).
    """
    if text is None:
        return list(DEFAULT_KEYS)
    keys = [key.strip() for key in text.split(",") if key.strip()]
    bad = [key for key in keys if not _KEY.match(key)]
    if not keys or bad:
        shown = ", ".join(repr(key) for key in bad) or "nothing"
        raise CommandError(
            f"--keys needs setting names such as SECRET_KEY,JWT_SECRET (upper case, "
            f"comma-separated); got {shown}.",
            2,
        )
    managed = sorted(set(keys) & set(FALLBACK_SETTINGS.values()))
    if managed:
        raise CommandError(
            f"{', '.join(managed)} holds previous secrets, which rotate writes itself: "
            "rotate JWT_SECRET or SECRET_KEY instead.",
            2,
        )
    return list(dict.fromkeys(keys))


def env_values(text: str) -> dict[str, str]:
    """Each key of a ``.env`` text and its value (the last assignment wins, as in dotenv)."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        match = _LINE.match(line)
        if match:
            values[match["key"]] = _unquote(match["value"].strip())
    return values


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def new_secret(length: int) -> str:
    """A random URL-safe value of ``length`` characters (6 random bits each)."""
    return secrets.token_urlsafe(length)[:length]


def plan(
    text: str | None,
    keys: Sequence[str],
    *,
    length: int,
    grace: timedelta,
    now: datetime | None = None,
) -> Rotation:
    """Decide the new values, and which previous ones to keep for ``grace``.

    Args:
        text: The current ``.env`` text, or None when there is none (nothing is kept).
        keys: The keys to rotate.
        length: Characters of each new value.
        grace: How long previous ``JWT_SECRET`` / ``SECRET_KEY`` values keep verifying;
            zero keeps none.
        now: The current time (for tests).

    Raises:
        CommandError: A ``*_FALLBACKS`` line of the file is not the JSON rotate writes.
    """
    now = now or datetime.now(UTC)
    rotation = Rotation({key: new_secret(length) for key in keys})
    current = env_values(text or "")
    until = (now + grace).replace(microsecond=0)
    for key, setting in FALLBACK_SETTINGS.items():
        if key not in rotation.values:
            continue
        kept = _still_active(setting, current.get(setting), now)
        old = current.get(key, "")
        if grace > timedelta(0) and len(old.encode()) >= MIN_LENGTH:
            kept.append({"secret": old, "until": until.strftime("%Y-%m-%dT%H:%M:%SZ")})
            rotation.kept.append(key)
            rotation.until = until
        if kept or setting in current:
            rotation.fallbacks[setting] = json.dumps(kept, separators=(",", ":"))
    return rotation


def _still_active(setting: str, value: str | None, now: datetime) -> list[dict[str, str]]:
    """The entries of an existing ``*_FALLBACKS`` value whose date has not passed."""
    if not value:
        return []
    from pydantic import ValidationError

    from tempest.conf.rotation import PreviousSecret

    try:
        entries = json.loads(value)
        previous = [PreviousSecret.model_validate(entry) for entry in entries]
    except (ValueError, TypeError, ValidationError):
        raise CommandError(
            f"{setting} in the .env file is not a JSON list of "
            '{"secret": ..., "until": ...}: fix or remove that line, then rotate again.'
        ) from None
    return [
        {"secret": item.secret, "until": item.until.strftime("%Y-%m-%dT%H:%M:%SZ")}
        for item in previous
        if item.active(now)
    ]


def apply(text: str, updates: dict[str, str]) -> str:
    """``text`` with each key of ``updates`` set: lines replaced in place, missing keys appended.

    Comments, blank lines, other keys and their order are kept as they are.
    """
    lines = text.splitlines(keepends=True)
    done: set[str] = set()
    for index, line in enumerate(lines):
        match = _LINE.match(line.rstrip("\r\n"))
        if match and match["key"] in updates:
            key = match["key"]
            ending = line[len(line.rstrip("\r\n")) :] or "\n"
            lines[index] = f"{match['head']}{key}={updates[key]}{ending}"
            done.add(key)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    lines.extend(f"{key}={value}\n" for key, value in updates.items() if key not in done)
    return "".join(lines)


def check_writable(path: Path) -> os.stat_result:
    """The file's status, once it is known that rotate may rewrite it.

    Raises:
        CommandError: The file does not exist, is not a regular file, or is read-only (its
            mode has no write bit, or this user may not write it or its folder).
    """
    try:
        status = path.stat()
    except FileNotFoundError:
        raise CommandError(
            f"No {path}: nothing was rotated. Pass --env FILE, or --print to only print new values."
        ) from None
    except OSError as error:
        raise CommandError(f"Cannot read {path}: {error.strerror}; nothing was rotated.") from None
    if not stat.S_ISREG(status.st_mode):
        raise CommandError(f"{path} is not a regular file: nothing was rotated.")
    writable = os.access(path, os.W_OK) and os.access(path.parent, os.W_OK | os.X_OK)
    if not writable or not status.st_mode & 0o222:
        raise CommandError(
            f"{path} is read-only (mode {stat.S_IMODE(status.st_mode):04o}): nothing was "
            "rotated. Make it and its folder writable, or use --print."
        )
    return status


def backup(path: Path, text: str, now: datetime | None = None) -> Path:
    """Copy ``text`` (the file's content) to ``<path>.bak.<UTC time>``, mode 0600.

    Returns:
        The backup's path (a ``.1``, ``.2``, ... suffix when that name is taken).
    """
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    base = path.with_name(f"{path.name}.bak.{stamp}")
    target, counter = base, 0
    while True:
        try:
            descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            break
        except FileExistsError:
            counter += 1
            target = base.with_name(f"{base.name}.{counter}")
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        os.fchmod(file.fileno(), 0o600)
        file.write(text)
        file.flush()
        os.fsync(file.fileno())
    return target


def write_atomically(path: Path, text: str, mode: int) -> None:
    """Replace ``path`` with ``text`` at once: readers see the old file or the new one.

    Args:
        path: The file.
        text: Its new content.
        mode: Its permission bits (the old file's).
    """
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            os.fchmod(file.fileno(), mode)
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
