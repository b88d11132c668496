"""The throttle's vocabulary: results, backend states, the backend protocol and its error."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple, Protocol, runtime_checkable

__all__ = [
    "AttemptState",
    "ThrottleBackend",
    "ThrottleResult",
    "ThrottleState",
    "ThrottleStatus",
    "ThrottleUnavailableError",
]


class ThrottleUnavailableError(RuntimeError):
    """The throttle's backend could not be reached (e.g. Redis is down).

    Callers that guard a sign-in should fail closed: refuse the attempt (503) rather than
    evaluate it unthrottled.
    """


class ThrottleStatus(StrEnum):
    """Whether a key may try again."""

    ALLOWED = "allowed"
    LOCKED = "locked"


@dataclass(frozen=True, slots=True)
class ThrottleResult:
    """The answer of :class:`AttemptThrottle` for one key.

    Attributes:
        status: :attr:`ThrottleStatus.ALLOWED` or :attr:`ThrottleStatus.LOCKED`.
        attempts_left: Attempts (or failures) still allowed inside the window; 0 while
            locked, and 0 for the last attempt :meth:`AttemptThrottle.attempt` allows.
        retry_after_seconds: Whole seconds until the lock expires; 0 when allowed, except
            for the last allowed attempt of :meth:`AttemptThrottle.attempt`: the seconds
            after which an attempt is sure to be allowed again if this one fails.
        attempt_id: The id :meth:`AttemptThrottle.attempt` gave the attempt it counted
            (for :meth:`AttemptThrottle.release`); empty otherwise.
    """

    status: ThrottleStatus
    attempts_left: int
    retry_after_seconds: int
    attempt_id: str = ""

    @property
    def locked(self) -> bool:
        """``True`` when :attr:`status` is :attr:`ThrottleStatus.LOCKED`."""
        return self.status is ThrottleStatus.LOCKED


class ThrottleState(NamedTuple):
    """What a backend knows about a key.

    Attributes:
        failures: Failures recorded inside the window (0 while locked).
        locked_for: Seconds left on the lock; 0 when the key is not locked.
    """

    failures: int
    locked_for: float


class AttemptState(NamedTuple):
    """What a backend answers to :meth:`ThrottleBackend.attempt`.

    Attributes:
        allowed: Whether the attempt was counted and may be evaluated.
        attempts: Attempts inside the window, this one included (0 when refused).
        locked_for: Seconds left on the lock when refused; 0 when allowed.
    """

    allowed: bool
    attempts: int
    locked_for: float


@runtime_checkable
class ThrottleBackend(Protocol):
    """Storage for :class:`AttemptThrottle`. Each method must be atomic for its key."""

    async def check(self, key: str, *, window_seconds: float) -> ThrottleState:
        """Return the state of ``key`` without changing it.

        Args:
            key: The throttled key.
            window_seconds: Only failures this recent count.

        Returns:
            The key's state.
        """
        ...

    async def record_failure(
        self, key: str, *, max_attempts: int, window_seconds: float, lock_seconds: float
    ) -> ThrottleState:
        """Record a failure and lock the key when ``max_attempts`` fall inside the window.

        Does nothing to a locked key. Setting the lock forgets the failures.

        Args:
            key: The throttled key.
            max_attempts: Failures inside the window that lock the key.
            window_seconds: Span of the sliding window.
            lock_seconds: How long the lock lasts.

        Returns:
            The key's state after the failure.
        """
        ...

    async def attempt(
        self,
        key: str,
        attempt_id: str,
        *,
        max_attempts: int,
        window_seconds: float,
        lock_seconds: float,
    ) -> AttemptState:
        """Count an attempt before it is evaluated, atomically: allow it or refuse it.

        A locked key refuses. A key that already holds ``max_attempts`` attempts inside the
        window refuses too, and is locked for ``lock_seconds`` (its attempts forgotten).
        Otherwise the attempt is counted under ``attempt_id`` and allowed.

        Args:
            key: The throttled key.
            attempt_id: A unique id for this attempt, for :meth:`release`.
            max_attempts: Attempts allowed inside the window.
            window_seconds: Span of the sliding window.
            lock_seconds: How long the lock lasts.

        Returns:
            Whether the attempt is allowed, with the count or the lock left.
        """
        ...

    async def release(self, key: str, attempt_id: str) -> None:
        """Forget one attempt counted by :meth:`attempt`; nothing if it is not counted.

        Args:
            key: The throttled key.
            attempt_id: The id given to :meth:`attempt`.
        """
        ...

    async def reset(self, key: str) -> None:
        """Forget the failures and the lock of ``key``.

        Args:
            key: The throttled key.
        """
        ...
