"""MemoryThrottleBackend: the counts in this process, for tests and single-process services."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from tempest.utils.throttle.base import AttemptState, ThrottleState

__all__ = ["MemoryThrottleBackend"]


class _MemoryEntry:
    __slots__ = ("expires_at", "failures", "locked_until")

    def __init__(self) -> None:
        self.failures: deque[tuple[float, str]] = deque()
        self.locked_until = 0.0
        self.expires_at = 0.0


def _lock_out(entry: _MemoryEntry, now: float, lock_seconds: float) -> float:
    """Lock the entry for ``lock_seconds``, forgetting its failures; the lock left."""
    entry.failures.clear()
    entry.locked_until = now + lock_seconds
    entry.expires_at = entry.locked_until
    return float(lock_seconds)


class MemoryThrottleBackend:
    """Keep the counts in this process: for tests and single-process services.

    Every process has its own counts, so several workers each allow ``max_attempts``:
    use :class:`RedisThrottleBackend` when the service runs more than one process.
    """

    _SWEEP_EVERY = 1024

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        """Create an empty store.

        Args:
            clock: Returns the current time in seconds; tests may pass a fake clock.
        """
        self._clock = clock
        self._entries: dict[str, _MemoryEntry] = {}
        self._lock = threading.Lock()
        self._writes = 0

    async def check(self, key: str, *, window_seconds: float) -> ThrottleState:
        """Return the state of ``key`` without changing it (see :class:`ThrottleBackend`).

        Args:
            key: The throttled key.
            window_seconds: Only failures this recent count.

        Returns:
            The key's state.
        """
        with self._lock:
            now = self._clock()
            entry = self._entries.get(key)
            if entry is None:
                return ThrottleState(0, 0.0)
            if entry.locked_until > now:
                return ThrottleState(0, entry.locked_until - now)
            since = now - window_seconds
            return ThrottleState(sum(1 for at, _ in entry.failures if at > since), 0.0)

    async def record_failure(
        self, key: str, *, max_attempts: int, window_seconds: float, lock_seconds: float
    ) -> ThrottleState:
        """Record a failure (see :meth:`ThrottleBackend.record_failure`).

        Args:
            key: The throttled key.
            max_attempts: Failures inside the window that lock the key.
            window_seconds: Span of the sliding window.
            lock_seconds: How long the lock lasts.

        Returns:
            The key's state after the failure.
        """
        with self._lock:
            now = self._clock()
            entry = self._entry_to_write(key, now, window_seconds)
            if entry.locked_until > now:
                return ThrottleState(0, entry.locked_until - now)
            entry.failures.append((now, ""))
            if len(entry.failures) >= max_attempts:
                return ThrottleState(0, _lock_out(entry, now, lock_seconds))
            entry.expires_at = now + window_seconds
            return ThrottleState(len(entry.failures), 0.0)

    async def attempt(
        self,
        key: str,
        attempt_id: str,
        *,
        max_attempts: int,
        window_seconds: float,
        lock_seconds: float,
    ) -> AttemptState:
        """Count an attempt or refuse it (see :meth:`ThrottleBackend.attempt`).

        Args:
            key: The throttled key.
            attempt_id: A unique id for this attempt.
            max_attempts: Attempts allowed inside the window.
            window_seconds: Span of the sliding window.
            lock_seconds: How long the lock lasts.

        Returns:
            Whether the attempt is allowed, with the count or the lock left.
        """
        with self._lock:
            now = self._clock()
            entry = self._entry_to_write(key, now, window_seconds)
            if entry.locked_until > now:
                return AttemptState(False, 0, entry.locked_until - now)
            if len(entry.failures) >= max_attempts:
                return AttemptState(False, 0, _lock_out(entry, now, lock_seconds))
            entry.failures.append((now, attempt_id))
            entry.expires_at = now + window_seconds
            return AttemptState(True, len(entry.failures), 0.0)

    async def release(self, key: str, attempt_id: str) -> None:
        """Forget one attempt (see :meth:`ThrottleBackend.release`).

        Args:
            key: The throttled key.
            attempt_id: The id given to :meth:`attempt`.
        """
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return
            for item in entry.failures:
                if item[1] == attempt_id:
                    entry.failures.remove(item)
                    return

    async def reset(self, key: str) -> None:
        """Forget ``key``.

        Args:
            key: The throttled key.
        """
        with self._lock:
            self._entries.pop(key, None)

    def _entry_to_write(self, key: str, now: float, window_seconds: float) -> _MemoryEntry:
        """The entry of ``key`` (made if new) without the failures older than the window.

        Called with the lock held; every ``_SWEEP_EVERY`` writes, expired keys go first.
        """
        self._writes += 1
        if self._writes % self._SWEEP_EVERY == 0:
            self._sweep(now)
        entry = self._entries.setdefault(key, _MemoryEntry())
        failures = entry.failures
        while failures and failures[0][0] <= now - window_seconds:
            failures.popleft()
        return entry

    def _sweep(self, now: float) -> None:
        """Drop keys whose failures and lock have all expired, so memory stays bounded."""
        expired = [key for key, entry in self._entries.items() if entry.expires_at <= now]
        for key in expired:
            del self._entries[key]
