"""The stored form of a cached value: a small JSON header, a newline, the payload.

The header records what tempest needs to judge the entry without reading the payload:
the namespace and tag versions it was loaded under, when it stops being fresh (stale
while revalidate) and its ETag. Tempest parses only this header as JSON; the payload is
handed to the function's deserializer.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Entry", "decode_entry", "encode_entry", "etag_of"]

MISSING: Any = object()
"""The value of an entry read from the store, before it is deserialized."""


@dataclass(slots=True)
class Entry:
    """A cached value.

    Attributes:
        payload: The serialized value.
        etag: The strong ETag of the payload (quoted).
        versions: The namespace and tag counters the value was loaded under.
        fresh_until: Wall-clock time (``time.time()``) the entry goes stale; None: never.
        value: The Python value when known (just loaded), else :data:`MISSING`.
    """

    payload: bytes
    etag: str
    versions: tuple[int, ...]
    fresh_until: float | None = None
    value: Any = field(default=MISSING, compare=False)

    def is_fresh(self, now: float | None = None) -> bool:
        """Whether the entry is within its time to live (not merely stale)."""
        return self.fresh_until is None or (now if now is not None else time.time()) < (
            self.fresh_until
        )


def etag_of(payload: bytes) -> str:
    """A strong ETag for ``payload``: a quoted prefix of its SHA-256."""
    import hashlib

    return '"' + hashlib.sha256(payload).hexdigest()[:32] + '"'


def encode_entry(entry: Entry) -> bytes:
    """The bytes stored for ``entry``."""
    header = json.dumps(
        {"v": list(entry.versions), "f": entry.fresh_until, "e": entry.etag},
        separators=(",", ":"),
    )
    return header.encode() + b"\n" + entry.payload


def decode_entry(raw: bytes) -> Entry | None:
    """The entry stored as ``raw``, or None when it is not one tempest wrote."""
    header, separator, payload = raw.partition(b"\n")
    if not separator:
        return None
    try:
        fields = json.loads(header)
        versions = tuple(int(version) for version in fields["v"])
        fresh_until = fields["f"]
        etag = fields["e"]
    except (ValueError, TypeError, KeyError):
        return None
    if isinstance(fresh_until, int) and not isinstance(fresh_until, bool):
        fresh_until = float(fresh_until)
    if not isinstance(etag, str) or not (fresh_until is None or isinstance(fresh_until, float)):
        return None
    return Entry(payload, etag, versions, fresh_until)
