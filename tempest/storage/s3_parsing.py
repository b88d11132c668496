"""Reading S3's answers (XML bodies, headers) and writing user metadata headers.

Small pure functions shared by the client, its multipart uploads and its errors. XML
comes from the configured server only and is parsed with the standard library (whose
expat refuses entity expansion attacks since Python 3.7.1 / expat 2.4.1).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from tempest.storage.base import ObjectStat

__all__ = [
    "META_PREFIX",
    "check_metadata",
    "parse_listing",
    "parse_time",
    "quoted_etag",
    "stat_from_headers",
    "xml_children",
    "xml_root",
    "xml_text",
]

META_PREFIX = "x-amz-meta-"
"""The header prefix of S3 user metadata."""

_META_NAME = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_META_VALUE = re.compile(r"^[\x20-\x7e]*$")


def _local_name(element: ET.Element) -> str:
    return element.tag.rpartition("}")[2]


def xml_root(body: bytes) -> ET.Element:
    """The root element of an XML answer."""
    return ET.fromstring(body)


def xml_text(element: ET.Element, name: str) -> str:
    """The stripped text of the first child called ``name`` (any namespace), or ``""``."""
    for child in element:
        if _local_name(child) == name:
            return (child.text or "").strip()
    return ""


def xml_children(element: ET.Element, name: str) -> list[ET.Element]:
    """The children called ``name`` (any namespace)."""
    return [child for child in element if _local_name(child) == name]


def parse_time(value: str | None) -> datetime:
    """An HTTP date or an ISO 8601 time (listings) as an aware datetime; now if unreadable."""
    if not value:
        return datetime.now(UTC)
    try:
        if "T" in value:  # ISO 8601 in listings: 2024-05-01T10:00:00.000Z
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsedate_to_datetime(value)
    except (ValueError, TypeError):
        return datetime.now(UTC)


def quoted_etag(etag: str) -> str:
    """``etag`` in double quotes, as HTTP writes entity tags."""
    etag = etag.strip()
    return etag if etag.startswith('"') else f'"{etag}"'


def check_metadata(metadata: Mapping[str, str] | None) -> dict[str, str]:
    """User metadata as ``x-amz-meta-*`` headers, refusing what HTTP cannot carry.

    Args:
        metadata: ``{"original-name": "report.pdf"}``; names are letters, digits, ``-``
            and ``_``; values printable ASCII (percent-encode anything else first).

    Returns:
        The headers to send.

    Raises:
        ValueError: A name or value that does not fit in a header.
    """
    headers: dict[str, str] = {}
    for name, value in (metadata or {}).items():
        if not _META_NAME.match(name) or not _META_VALUE.match(value):
            raise ValueError(
                f"S3 metadata {name!r} must be a plain name with a printable ASCII value "
                "(percent-encode other characters)"
            )
        headers[META_PREFIX + name.lower()] = value.strip()
    return headers


def stat_from_headers(key: str, headers: Mapping[str, str]) -> ObjectStat:
    """The :class:`ObjectStat` of a ``HEAD`` answer's headers (names in lower case)."""
    metadata = {
        name[len(META_PREFIX) :]: value
        for name, value in headers.items()
        if name.lower().startswith(META_PREFIX)
    }
    return ObjectStat(
        key=key,
        size=int(headers.get("content-length", "0")),
        etag=quoted_etag(headers.get("etag", "")),
        last_modified=parse_time(headers.get("last-modified")),
        content_type=headers.get("content-type"),
        metadata=metadata,
    )


def parse_listing(body: bytes, base: str) -> tuple[list[ObjectStat], str | None]:
    """The keys of a ListObjectsV2 page under ``base`` (stripped), and the next token.

    Args:
        body: The answer's XML.
        base: The client's prefix with its ``/`` (``""`` for none).

    Returns:
        ``(stats, token)``; ``token`` is None on the last page.
    """
    root = xml_root(body)
    stats = [
        ObjectStat(
            key=name[len(base) :],
            size=int(xml_text(item, "Size") or 0),
            etag=quoted_etag(xml_text(item, "ETag")),
            last_modified=parse_time(xml_text(item, "LastModified")),
        )
        for item in xml_children(root, "Contents")
        if (name := xml_text(item, "Key")).startswith(base)
    ]
    token = xml_text(root, "NextContinuationToken")
    truncated = xml_text(root, "IsTruncated") == "true"
    return stats, (token if truncated and token else None)
