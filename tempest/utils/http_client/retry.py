"""When and how long to wait before an outgoing HTTP request is sent again: :class:`RetryPolicy`."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

__all__ = ["IDEMPOTENCY_KEY_HEADER", "RetryPolicy", "parse_retry_after"]

IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
"""The header that makes a POST or PATCH safe to send again (the server deduplicates it)."""

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
"""Methods RFC 9110 calls idempotent: sending one twice has the effect of sending it once."""

KEYED_METHODS = frozenset({"POST", "PATCH"})
"""Methods retried only when the request carries an ``Idempotency-Key``."""

RETRY_STATUSES = frozenset({429, 502, 503, 504})
"""Answers that say "try again later": too many requests, and a gateway or upstream down."""


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait, or None when absent or unreadable.

    Both forms of RFC 9110 are read: a number of seconds (``120``) and an HTTP-date
    (``Wed, 21 Oct 2015 07:28:00 GMT``; a date in the past means 0).

    Args:
        value: The header's value.
        now: The current time, for HTTP-dates (default: now, in UTC).

    Returns:
        The delay in seconds, never negative, or None.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000": RFC 5322's "UTC, source unknown"
        when = when.replace(tzinfo=UTC)
    seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, seconds)


@dataclass(frozen=True)
class RetryPolicy:
    """Which requests :class:`~tempest.utils.http_client.HTTPClient` retries, and when.

    A request is sent again only when sending it twice is safe: its method is
    idempotent (GET, HEAD, OPTIONS, PUT, DELETE), or it is a POST or PATCH carrying an
    ``Idempotency-Key`` header (sent unchanged on every attempt, so that the server
    applies it once). A POST without one is sent exactly once, whatever happens.

    It is retried after a connection error or a timeout, and after an answer in
    ``retry_statuses`` (429, 502, 503, 504). Between attempts it waits the server's
    ``Retry-After`` when there is one, else a "full jitter" exponential backoff: a random
    delay between 0 and ``min(backoff_max, backoff_base * 2 ** retry)``, which spreads
    the retries of many clients instead of sending them in waves. ``deadline`` bounds the
    whole call, attempts and waits together: a wait that would end past it is not made.

    Attributes:
        max_attempts: Attempts in all, the first one included (1: never retry).
        backoff_base: Seconds; the first retry waits up to this much.
        backoff_max: Seconds; no backoff wait is longer.
        deadline: Seconds for the whole call, every attempt and wait included; None: no
            limit but each attempt's timeout.
        retry_statuses: Answer statuses that are retried.
        respect_retry_after: Wait what ``Retry-After`` says (when it fits the deadline).
        max_retry_after: Seconds; a longer ``Retry-After`` is not waited for: the answer
            is returned at once.
    """

    max_attempts: int = 3
    backoff_base: float = 0.2
    backoff_max: float = 5.0
    deadline: float | None = 30.0
    retry_statuses: frozenset[int] = field(default=RETRY_STATUSES)
    respect_retry_after: bool = True
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if self.backoff_base < 0 or self.backoff_max < 0:
            raise ValueError("backoff_base and backoff_max must not be negative")
        if self.deadline is not None and self.deadline <= 0:
            raise ValueError(f"deadline must be positive (or None), got {self.deadline}")

    @classmethod
    def never(cls) -> RetryPolicy:
        """A policy that sends every request once."""
        return cls(max_attempts=1)

    def allows(self, method: str, headers: Mapping[str, str]) -> bool:
        """Whether a request may be sent more than once.

        Args:
            method: The HTTP method.
            headers: The request's headers (case-insensitive mapping, e.g. httpx's).

        Returns:
            True for idempotent methods, and for POST/PATCH with an ``Idempotency-Key``.
        """
        if self.max_attempts < 2:
            return False
        method = method.upper()
        if method in IDEMPOTENT_METHODS:
            return True
        return method in KEYED_METHODS and bool(headers.get(IDEMPOTENCY_KEY_HEADER))

    def retries_status(self, status_code: int) -> bool:
        """Whether an answer with this status is worth another attempt."""
        return status_code in self.retry_statuses

    def backoff(self, retry: int) -> float:
        """The full-jitter wait before retry number ``retry`` (1 for the first retry).

        Args:
            retry: Which retry this is, counting from 1.

        Returns:
            A random delay in ``[0, min(backoff_max, backoff_base * 2 ** (retry - 1))]``.
        """
        ceiling = min(self.backoff_max, self.backoff_base * (2 ** max(0, retry - 1)))
        return random.uniform(0.0, ceiling)

    def delay(self, retry: int, retry_after: str | None) -> float | None:
        """How long to wait before retry number ``retry``, or None to stop retrying.

        Args:
            retry: Which retry this is, counting from 1.
            retry_after: The last answer's ``Retry-After`` header, if any.

        Returns:
            The server's ``Retry-After`` when honoured, else the backoff; None when the
            server asks for longer than ``max_retry_after``.
        """
        if self.respect_retry_after:
            asked = parse_retry_after(retry_after)
            if asked is not None:
                return asked if asked <= self.max_retry_after else None
        return self.backoff(retry)
