"""An asyncio circuit breaker: :class:`CircuitBreaker` and :class:`CircuitOpenError`.

A breaker stops calling an upstream that keeps failing: after ``failure_threshold``
consecutive failures it *opens* and every call fails fast with :class:`CircuitOpenError`
for ``reset_timeout`` seconds; then it is *half-open*: exactly one call (the probe) goes
through, however many are waiting, and the others still fail fast. The probe's success
closes the breaker; its failure opens it again for another ``reset_timeout``.

The state lives in the breaker object, so in one process: each worker process of a
server has its own and learns on its own that an upstream is down. Deciding who probes
takes no ``await`` between the check and the claim, which is what makes it exact within
an event loop; a breaker is not meant to be shared between threads.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any, TypeVar

from tempest.exceptions.common import ServiceUnavailableException

__all__ = ["BreakerState", "CircuitBreaker", "CircuitOpenError"]

T = TypeVar("T")


class BreakerState(StrEnum):
    """Where a :class:`CircuitBreaker` stands."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class CircuitOpenError(ServiceUnavailableException):
    """A call refused without being made: the upstream's circuit breaker is open.

    Uncaught in a route, it is answered 503 with ``Retry-After`` (the seconds until the
    breaker lets a probe through) and ``details["service"]`` naming the upstream.

    Attributes:
        name: The breaker's name (the upstream's host for :class:`HTTPClient`).
        retry_after: Whole seconds until the breaker lets a probe through (at least 1).
    """

    message = "An upstream service is failing; the call was not made"
    code = "CIRCUIT_OPEN"

    def __init__(self, name: str, retry_after: float) -> None:
        """Build the error for the breaker ``name``.

        Args:
            name: The breaker's name (the upstream host).
            retry_after: Seconds until a probe is let through.
        """
        super().__init__(
            f"The circuit breaker for {name} is open after repeated failures; "
            "the call was not made",
            retry_after=max(1, math.ceil(retry_after)),
            service=name,
        )
        self.name = name


class CircuitBreaker:
    """Closed → open after consecutive failures → half-open with one probe → closed.

    Use :meth:`call` around a coroutine, or :meth:`acquire` and :meth:`record` around
    anything else (that is what :class:`HTTPClient` does per attempt).

    Args:
        name: What the breaker guards, shown in :class:`CircuitOpenError`.
        failure_threshold: Consecutive failures that open it; 0 disables the breaker.
        reset_timeout: Seconds it stays open before letting a probe through.
        clock: A monotonic clock in seconds (tests pass their own).
    """

    def __init__(
        self,
        name: str = "upstream",
        *,
        failure_threshold: int = 5,
        reset_timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 0:
            raise ValueError(f"failure_threshold must not be negative, got {failure_threshold}")
        if reset_timeout < 0:
            raise ValueError(f"reset_timeout must not be negative, got {reset_timeout}")
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> BreakerState:
        """The current state (an open breaker whose cool-down is over is half-open)."""
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._probing or self._clock() - self._opened_at >= self.reset_timeout:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    @property
    def failures(self) -> int:
        """Consecutive failures counted while closed."""
        return self._failures

    def acquire(self) -> bool:
        """Ask to make a call; raise if the breaker refuses it.

        No ``await`` happens here, so among concurrent callers exactly one becomes the
        half-open probe.

        Returns:
            True when this call is the half-open probe (pass it to :meth:`record`).

        Raises:
            CircuitOpenError: The breaker is open, or half-open with a probe in flight.
        """
        if self._opened_at is None:
            return False
        waited = self._clock() - self._opened_at
        if self._probing or waited < self.reset_timeout:
            raise CircuitOpenError(self.name, max(0.0, self.reset_timeout - waited))
        self._probing = True
        return True

    def record(self, *, success: bool, probe: bool) -> None:
        """Report how a call allowed by :meth:`acquire` went.

        Args:
            success: Whether the upstream answered well (anything but a failure).
            probe: What :meth:`acquire` returned for this call.
        """
        if probe:
            self._probing = False
            if success:
                self._failures = 0
                self._opened_at = None
            else:
                self._opened_at = self._clock()
            return
        if self._opened_at is not None:
            return  # a call started before the breaker opened: the probe decides
        if success:
            self._failures = 0
            return
        self._failures += 1
        if self.failure_threshold and self._failures >= self.failure_threshold:
            self._opened_at = self._clock()

    def release(self, *, probe: bool) -> None:
        """Forget a call that ended without a verdict (cancelled); a probe may be retried."""
        if probe:
            self._probing = False

    def reset(self) -> None:
        """Close the breaker and forget its failures."""
        self._failures = 0
        self._opened_at = None
        self._probing = False

    async def call(
        self,
        func: Callable[..., Awaitable[T]],
        *args: Any,
        is_failure: Callable[[BaseException], bool] = lambda error: True,
        **kwargs: Any,
    ) -> T:
        """Await ``func(*args, **kwargs)`` through the breaker.

        Args:
            func: The coroutine function to call.
            *args: Its positional arguments.
            is_failure: Which exceptions count as failures (default: all).
            **kwargs: Its keyword arguments.

        Returns:
            What ``func`` returns.

        Raises:
            CircuitOpenError: The breaker refused the call.
        """
        probe = self.acquire()
        try:
            result = await func(*args, **kwargs)
        except Exception as error:
            self.record(success=not is_failure(error), probe=probe)
            raise
        except BaseException:
            self.release(probe=probe)
            raise
        self.record(success=True, probe=probe)
        return result

    def __repr__(self) -> str:
        return f"CircuitBreaker({self.name!r}, state={self.state.value!r})"
