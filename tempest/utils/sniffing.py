"""What a file really is, from its first bytes: magic numbers, not names or headers.

Pure Python (no libmagic). :func:`sniff_mime` reads a head of bytes against a compact
signature table; :func:`sniff_file` does the same for a file on disk and, for a ZIP, reads
the archive's central directory (from the end of the file, never the whole file into
memory) to tell the OOXML formats (``.docx``, ``.xlsx``, ``.pptx``) apart from a plain ZIP,
which is where byte-prefix detectors (``filetype``, most ``magic`` tables) go wrong.

Active content is named too, so that callers can refuse it: HTML, SVG (with or without
script), executables (``MZ``, ELF, Mach-O) and ``#!`` scripts. :func:`find_active_content`
scans the first kilobyte of a supposedly binary file for markup a browser would run (a
"polyglot", e.g. a valid PDF header followed by ``<html><script>``).
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

__all__ = [
    "ACTIVE_TYPES",
    "HEAD_SIZE",
    "OOXML_TYPES",
    "SNIFFABLE_TYPES",
    "extensions_for",
    "find_active_content",
    "sniff_file",
    "sniff_mime",
    "svg_has_script",
]

HEAD_SIZE = 8192
"""How many leading bytes :func:`sniff_mime` looks at (and callers keep for it)."""

POLYGLOT_WINDOW = 1024
"""How far into a binary file :func:`find_active_content` looks for markup."""

OOXML_TYPES: dict[str, str] = {
    "word/": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xl/": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt/": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
"""The folder each OOXML format keeps its parts in -> its MIME type."""

ACTIVE_TYPES = frozenset(
    {
        "text/html",
        "image/svg+xml",
        "application/x-msdownload",
        "application/x-executable",
        "application/x-mach-binary",
        "text/x-shellscript",
    }
)
"""Types a browser or an operating system runs: refused unless explicitly allowed."""

# (offset, magic, mime); checked in order, first match wins.
_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"),
    (0, b"%PDF-", "application/pdf"),
    (0, b"PK\x03\x04", "application/zip"),
    (0, b"PK\x05\x06", "application/zip"),  # an empty archive
    (0, b"\x1f\x8b", "application/gzip"),
    (0, b"II*\x00", "image/tiff"),
    (0, b"MM\x00*", "image/tiff"),
    (0, b"\x00\x00\x01\x00", "image/vnd.microsoft.icon"),
    (0, b"ID3", "audio/mpeg"),
    (0, b"OggS", "audio/ogg"),
    (0, b"fLaC", "audio/flac"),
    (0, b"\x1a\x45\xdf\xa3", "video/webm"),
    (0, b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (0, b"MZ", "application/x-msdownload"),
    (0, b"\x7fELF", "application/x-executable"),
    (0, b"\xfe\xed\xfa\xce", "application/x-mach-binary"),
    (0, b"\xfe\xed\xfa\xcf", "application/x-mach-binary"),
    (0, b"\xce\xfa\xed\xfe", "application/x-mach-binary"),
    (0, b"\xcf\xfa\xed\xfe", "application/x-mach-binary"),
    (0, b"#!", "text/x-shellscript"),
)

_RIFF_TYPES = {b"WEBP": "image/webp", b"WAVE": "audio/wav", b"AVI ": "video/x-msvideo"}
_FTYP_BRANDS = {
    b"M4A ": "audio/mp4",
    b"M4B ": "audio/mp4",
    b"qt  ": "video/quicktime",
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"mif1": "image/heif",
    b"avif": "image/avif",
}
_BMP_HEADER_SIZES = {12, 40, 52, 56, 64, 108, 124}

_EXTENSIONS: dict[str, tuple[str, ...]] = {
    "image/png": ("png",),
    "image/jpeg": ("jpg", "jpeg", "jpe", "jfif"),
    "image/gif": ("gif",),
    "image/webp": ("webp",),
    "image/bmp": ("bmp", "dib"),
    "image/tiff": ("tif", "tiff"),
    "image/vnd.microsoft.icon": ("ico",),
    "image/heic": ("heic",),
    "image/heif": ("heif",),
    "image/avif": ("avif",),
    "application/pdf": ("pdf",),
    "application/zip": ("zip",),
    "application/gzip": ("gz", "tgz"),
    "application/x-7z-compressed": ("7z",),
    OOXML_TYPES["word/"]: ("docx",),
    OOXML_TYPES["xl/"]: ("xlsx",),
    OOXML_TYPES["ppt/"]: ("pptx",),
    "video/mp4": ("mp4", "m4v"),
    "video/quicktime": ("mov",),
    "video/webm": ("webm",),
    "video/x-msvideo": ("avi",),
    "audio/mp4": ("m4a", "m4b"),
    "audio/mpeg": ("mp3",),
    "audio/ogg": ("ogg", "oga", "opus"),
    "audio/flac": ("flac",),
    "audio/wav": ("wav",),
    "text/plain": ("txt", "csv", "tsv", "md", "json", "log", "text"),
}

SNIFFABLE_TYPES = frozenset(_EXTENSIONS) | ACTIVE_TYPES
"""Every type :func:`sniff_mime` / :func:`sniff_file` can name."""

_HTML_MARKERS = re.compile(
    rb"<(?:!doctype\s+html|html|head|body|script|iframe|object|embed|svg|meta|link|style"
    rb"|img\s[^>]*\bon[a-z]+\s*=)|javascript:",
    re.IGNORECASE,
)
_SVG_SCRIPT = re.compile(
    rb"<script|<foreignobject|<iframe|<embed|<object|\bon[a-z]+\s*=|javascript:|<!entity",
    re.IGNORECASE,
)
_TEXT_START = re.compile(rb"^(?:\xef\xbb\xbf)?\s*", re.DOTALL)


def _sniff_binary(head: bytes) -> str | None:
    for offset, magic, mime in _SIGNATURES:
        if head.startswith(magic, offset):
            return mime
    if head.startswith(b"RIFF") and head[8:12] in _RIFF_TYPES:
        return _RIFF_TYPES[head[8:12]]
    if head[4:8] == b"ftyp" and len(head) >= 12:
        return _FTYP_BRANDS.get(head[8:12], "video/mp4")
    if head.startswith(b"BM") and len(head) >= 18:
        reserved_zero = head[6:10] == b"\x00\x00\x00\x00"
        if reserved_zero and int.from_bytes(head[14:18], "little") in _BMP_HEADER_SIZES:
            return "image/bmp"
    if head[:3] == b"\xff\xfb" or head[:2] in (b"\xff\xf3", b"\xff\xf2"):
        return "audio/mpeg"
    return None


def _sniff_text(head: bytes) -> str | None:
    if b"\x00" in head:
        return None
    body = head[_TEXT_START.match(head).end() :]  # type: ignore[union-attr]  # always matches
    lowered = body[:POLYGLOT_WINDOW].lower()
    if lowered.startswith(b"<svg") or (lowered.startswith(b"<?xml") and b"<svg" in lowered):
        return "image/svg+xml"
    if lowered.startswith(b"<!doctype svg"):
        return "image/svg+xml"
    if _HTML_MARKERS.search(lowered):
        return "text/html"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        # A multi-byte character cut at the end of the head is still text.
        if error.start < len(head) - 3:
            return None
    return "text/plain"


def sniff_mime(head: bytes) -> str | None:
    """The MIME type the leading bytes of a file reveal, or None if unknown.

    Recognizes images (PNG, JPEG, GIF, WebP, BMP, TIFF, ICO, HEIC/AVIF), PDF, ZIP, gzip, 7z,
    MP4 / QuickTime / M4A (the ``ftyp`` box), WebM, MP3, Ogg, FLAC, WAV, AVI, and the
    active types in :data:`ACTIVE_TYPES` (HTML, SVG, executables, ``#!`` scripts). Text
    without markup is ``text/plain``. OOXML documents look like ``application/zip`` here:
    use :func:`sniff_file` to tell them apart.

    Args:
        head: The first bytes of the file; :data:`HEAD_SIZE` bytes are plenty.

    Returns:
        The MIME type, or None when the bytes match nothing known (or ``head`` is empty).
    """
    if not head:
        return None
    return _sniff_binary(head) or _sniff_text(head)


def _ooxml_type(path: Path) -> str | None:
    """The OOXML type of the ZIP at ``path``, from its central directory, or None."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return None
    if "[Content_Types].xml" not in names:
        return None
    for folder, mime in OOXML_TYPES.items():
        if any(name.startswith(folder) for name in names):
            return mime
    return None


def sniff_file(path: str | Path, head: bytes | None = None) -> str | None:
    """The MIME type of the file at ``path``, OOXML formats told apart from plain ZIP.

    A ZIP whose central directory lists ``[Content_Types].xml`` and parts under ``word/``,
    ``xl/`` or ``ppt/`` is a ``.docx``, ``.xlsx`` or ``.pptx``. The directory is read from
    the end of the file on disk: the archive is never loaded into memory.

    Args:
        path: The file to sniff.
        head: Its first bytes when the caller already has them (saves a read).

    Returns:
        The MIME type, or None when unknown.
    """
    path = Path(path)
    if head is None:
        with path.open("rb") as stream:
            head = stream.read(HEAD_SIZE)
    mime = sniff_mime(head)
    if mime == "application/zip":
        return _ooxml_type(path) or mime
    return mime


def find_active_content(head: bytes) -> str | None:
    """Markup a browser would run, found in the first kilobyte of a binary file.

    Applied to files sniffed as a binary type (PDF, an image, a ZIP): a polyglot such as
    ``%PDF-1.7`` followed by ``<html><script>`` passes a magic-number check but renders as
    a page when served with the wrong type or sniffed by an old browser. Legitimate binary
    formats do not carry HTML tags in their first kilobyte.

    Args:
        head: The file's first bytes.

    Returns:
        The offending marker (e.g. ``"<script"``), or None when the window is clean.
    """
    found = _HTML_MARKERS.search(head[:POLYGLOT_WINDOW])
    return found.group(0).decode("latin-1").lower() if found else None


def svg_has_script(path: str | Path, chunk_size: int = 65536) -> bool:
    """Whether an SVG file carries script: ``<script>``, ``on*=`` handlers, ``javascript:``.

    Scans the whole file in chunks (with an overlap, so a marker split between two chunks
    is still found); ``<foreignObject>``, ``<iframe>``, ``<embed>``, ``<object>`` and XML
    entity declarations count too.

    Args:
        path: The SVG file.
        chunk_size: Bytes read at a time.

    Returns:
        True when any marker is present.
    """
    tail = b""
    with Path(path).open("rb") as stream:
        while chunk := stream.read(chunk_size):
            window = tail + chunk
            if _SVG_SCRIPT.search(window):
                return True
            tail = window[-32:]
    return False


def extensions_for(mime: str) -> tuple[str, ...]:
    """The file extensions (lower case, no dot) a sniffed type is known under.

    Args:
        mime: A MIME type, e.g. ``"image/jpeg"``.

    Returns:
        The extensions, e.g. ``("jpg", "jpeg", "jpe", "jfif")``; empty when unknown.
    """
    return _EXTENSIONS.get(mime, ())
