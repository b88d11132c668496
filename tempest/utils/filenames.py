r"""Client file names made safe, and storage keys checked before they touch a path.

:func:`sanitize_filename` turns whatever a client sent as a file name into one plain name:
no folders, no NUL or control characters, no bidirectional overrides (the
``invoice\\u202egpj.exe`` trick), at most 255 bytes of UTF-8 with the extension kept.

:func:`validate_key` is the gate every storage applies to a key (``avatars/3f2a.png``)
before reading, writing or deleting: relative, ``/``-separated, no empty, ``.``, ``..`` or
dot-leading parts, no backslashes, NUL or control characters, no Unicode look-alikes of
dots or slashes. Local storage also resolves the path and opens it without following
symlinks (see :mod:`tempest.storage.local`).
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["InvalidKeyError", "sanitize_filename", "split_extension", "validate_key"]

MAX_NAME_BYTES = 255
"""Longest file name most file systems accept (ext4, APFS, NTFS count 255)."""

MAX_KEY_BYTES = 1024
"""Longest storage key (S3's limit)."""

_MAX_EXTENSION = 16
_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$", re.IGNORECASE)
_RESERVED_CHARS = str.maketrans({char: "_" for char in '<>:"|?*'})
_SAFE_EXTENSION = re.compile(r"^[A-Za-z0-9]{1,16}$")
# Slashes and dots in disguise that NFKC leaves alone (division and fraction slashes, set
# minus, big solidus...) or folds (full-width, small form, leaders, ideographic stop).
_LOOKALIKES = re.compile(
    "[\u2215\u2044\u2216\u29f5\u29f8\u29f9\ufe68\uff0f\uff3c"
    "\u2024\u2025\u2026\ufe52\uff0e\u3002\uff61]"
)


class InvalidKeyError(ValueError):
    """A storage key that could name something outside the storage (or is malformed)."""


def _drop_invisible(text: str) -> str:
    # Cc: control characters (NUL, CR, LF, ESC...); Cf: format characters, among them the
    # bidi overrides and isolates (U+202A-U+202E, U+2066-U+2069), marks and zero-widths.
    return "".join(char for char in text if unicodedata.category(char) not in ("Cc", "Cf"))


def split_extension(name: str) -> tuple[str, str]:
    """Split ``name`` into stem and extension (without the dot, as written).

    Only a short alphanumeric suffix counts as an extension: ``"archive.tar.gz"`` gives
    ``("archive.tar", "gz")``, ``"notes."`` and ``".env"`` give no extension.

    Args:
        name: A file name without folders.

    Returns:
        ``(stem, extension)``; the extension is ``""`` when there is none.
    """
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem or not _SAFE_EXTENSION.match(extension):
        return name, ""
    return stem, extension


def _truncate_utf8(text: str, max_bytes: int) -> str:
    encoded = text.encode("utf-8")[:max_bytes]
    return encoded.decode("utf-8", errors="ignore")


def sanitize_filename(
    name: str | None, *, max_bytes: int = MAX_NAME_BYTES, default: str = "file"
) -> str:
    r"""A safe, single-component version of a client-supplied file name.

    Keeps the last path component (``/`` and ``\\`` both split), normalizes to NFC, drops
    NUL, control and format characters (bidi overrides included), replaces
    ``< > : " | ? *`` with ``_``, strips leading dots and spaces and trailing dots and
    spaces, prefixes Windows device names (``CON``, ``NUL``, ``COM1``...) with ``_`` and
    cuts the stem so the whole name fits ``max_bytes`` bytes of UTF-8, extension kept.

    Args:
        name: What the client sent (may be None or empty).
        max_bytes: Longest result, in UTF-8 bytes.
        default: The stem used when nothing usable is left.

    Returns:
        A non-empty name that is safe as one path component.
    """
    text = unicodedata.normalize("NFC", name or "")
    text = _drop_invisible(text.replace("\\", "/")).rsplit("/", 1)[-1]
    text = text.translate(_RESERVED_CHARS).strip(" .")
    text = text.lstrip(".")
    if not text:
        text = default
    if _WINDOWS_RESERVED.match(text):
        text = "_" + text
    stem, extension = split_extension(text)
    suffix = f".{extension}" if extension else ""
    if len(text.encode("utf-8")) > max_bytes:
        room = max(max_bytes - len(suffix.encode("utf-8")), 1)
        stem = _truncate_utf8(stem, room).rstrip(" .") or default
        text = stem + suffix
    return text


def _suspicious(part: str) -> bool:
    if part in ("", ".", "..") or part.startswith("."):
        return True
    if _drop_invisible(part) != part or "\\" in part or _LOOKALIKES.search(part):
        return True
    # Full-width dots and slashes, one-dot leaders, fraction slashes...: whatever NFKC
    # folds into a dot or a separator is refused, so no decoding layer can turn it into one.
    folded = unicodedata.normalize("NFKC", part)
    return folded != part and (
        folded.startswith(".") or "/" in folded or "\\" in folded or ".." in folded
    )


def validate_key(key: str) -> str:
    """Check that ``key`` is a relative storage key that stays inside its storage.

    Args:
        key: ``/``-separated, e.g. ``"invoices/2024/3f2a9c.pdf"``.

    Returns:
        The key, unchanged.

    Raises:
        InvalidKeyError: The key is empty, too long, absolute (``/x``, ``C:x``), holds a
            backslash, NUL or another control or format character, percent-escaped dots
            or slashes, or a part that is empty, ``.``, ``..``, starts with a dot or folds
            (NFKC) into one.
    """
    if not isinstance(key, str) or not key:
        raise InvalidKeyError("a storage key must be a non-empty string")
    if len(key.encode("utf-8", errors="replace")) > MAX_KEY_BYTES:
        raise InvalidKeyError(f"a storage key is at most {MAX_KEY_BYTES} bytes")
    if key.startswith("/") or re.match(r"^[A-Za-z]:", key):
        raise InvalidKeyError(f"{key!r} is absolute: storage keys are relative")
    if re.search(r"%(?:2e|2f|5c|00)", key, re.IGNORECASE):
        raise InvalidKeyError(f"{key!r} holds a percent-escaped dot, slash or NUL")
    for part in key.split("/"):
        if _suspicious(part):
            raise InvalidKeyError(f"{key!r} has an unsafe part {part!r}")
    return key
