"""AttemptThrottle: the policy (how many attempts in which window lock a key, for how long)."""

from __future__ import annotations

import math
import uuid

from tempest.utils.throttle.base import (
    ThrottleBackend,
    ThrottleResult,
    ThrottleState,
    ThrottleStatus,
)
from tempest.utils.throttle.memory import MemoryThrottleBackend

__all__ = ["AttemptThrottle"]


class AttemptThrottle:
    """Lock a key (``"login:ana@example.com"``) after too many failed attempts.

    Attributes:
        backend: Where the counts live.
        max_attempts: Failures inside the window that lock the key.
        window_seconds: Span of the sliding window.
        lock_seconds: How long a lock lasts.
    """

    def __init__(
        self,
        backend: ThrottleBackend | None = None,
        *,
        max_attempts: int = 5,
        window_seconds: float = 300,
        lock_seconds: float = 900,
    ) -> None:
        """Set the policy.

        Args:
            backend: A :class:`ThrottleBackend`; a new :class:`MemoryThrottleBackend` when
                ``None``.
            max_attempts: Failures inside the window that lock the key, at least 1.
            window_seconds: Span of the sliding window, in seconds.
            lock_seconds: Duration of a lock, in seconds.

        Raises:
            TypeError: ``backend`` is not a :class:`ThrottleBackend`, or a number has the
                wrong type.
            ValueError: A number is not positive.
        """
        if backend is None:
            backend = MemoryThrottleBackend()
        elif not isinstance(backend, ThrottleBackend):
            raise TypeError(
                f"backend must be a ThrottleBackend, got {type(backend).__name__}; wrap a Redis "
                "client in RedisThrottleBackend(client)"
            )
        if isinstance(max_attempts, bool) or not isinstance(max_attempts, int):
            raise TypeError(f"max_attempts must be an integer, got {type(max_attempts).__name__}")
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
        self.backend = backend
        self.max_attempts = max_attempts
        self.window_seconds = _positive(window_seconds, "window_seconds")
        self.lock_seconds = _positive(lock_seconds, "lock_seconds")

    async def check(self, key: str) -> ThrottleStatus:
        """Tell whether ``key`` may make an attempt now, without counting one.

        ``if await throttle.check(key) is ThrottleStatus.LOCKED:`` refuses a locked key.
        For the attempts left and the seconds until the lock expires, use :meth:`inspect`.

        Args:
            key: What to throttle, e.g. ``f"login:{email}"``.

        Returns:
            :attr:`ThrottleStatus.ALLOWED` or :attr:`ThrottleStatus.LOCKED`.
        """
        return (await self.inspect(key)).status

    async def inspect(self, key: str) -> ThrottleResult:
        """Like :meth:`check`, with the details: attempts left and lock time left.

        Args:
            key: What to throttle, e.g. ``f"login:{email}"``.

        Returns:
            The key's status, attempts left and seconds until the lock expires (for a
            ``Retry-After`` header).
        """
        state = await self.backend.check(_check_key(key), window_seconds=self.window_seconds)
        return self._result(state)

    async def record_failure(self, key: str) -> ThrottleResult:
        """Count a failed attempt; lock ``key`` when it is one too many.

        Args:
            key: What to throttle.

        Returns:
            The key's status after this failure: :attr:`ThrottleStatus.LOCKED` with
            ``retry_after_seconds`` when this failure set the lock (or the key was locked).
        """
        state = await self.backend.record_failure(
            _check_key(key),
            max_attempts=self.max_attempts,
            window_seconds=self.window_seconds,
            lock_seconds=self.lock_seconds,
        )
        return self._result(state)

    async def attempt(self, key: str) -> ThrottleResult:
        """Count an attempt *before* evaluating it; evaluate only if the answer is ALLOWED.

        The count and the decision are one atomic step, so however many requests arrive
        at once, at most ``max_attempts`` are allowed per window. When the window is full
        the next attempt is refused and locks the key for ``lock_seconds``. After a
        success, call :meth:`reset` (forget every attempt of the key) or :meth:`release`
        (give back only this attempt); a failure needs no further call.

        Args:
            key: What to throttle, e.g. ``f"login:{email}"``.

        Returns:
            ALLOWED (with ``attempts_left`` and the ``attempt_id``) or LOCKED (with
            ``retry_after_seconds``). The last allowed attempt has ``attempts_left == 0``
            and ``retry_after_seconds`` set to the window: the time after which an attempt
            is sure to be allowed again if this one fails.

        Raises:
            ThrottleUnavailableError: The backend could not be reached.
        """
        attempt_id = uuid.uuid4().hex
        state = await self.backend.attempt(
            _check_key(key),
            attempt_id,
            max_attempts=self.max_attempts,
            window_seconds=self.window_seconds,
            lock_seconds=self.lock_seconds,
        )
        if not state.allowed:
            return ThrottleResult(ThrottleStatus.LOCKED, 0, max(1, math.ceil(state.locked_for)))
        left = max(0, self.max_attempts - state.attempts)
        retry_after = 0 if left else max(1, math.ceil(self.window_seconds))
        return ThrottleResult(ThrottleStatus.ALLOWED, left, retry_after, attempt_id)

    async def release(self, key: str, attempt: ThrottleResult | str) -> None:
        """Give back one attempt counted by :meth:`attempt`, e.g. one that succeeded.

        Unlike :meth:`reset`, the key's other attempts still count: a success can only
        return its own attempt, never the failures before it.

        Args:
            key: What to throttle.
            attempt: The result of :meth:`attempt`, or its ``attempt_id``.
        """
        attempt_id = attempt if isinstance(attempt, str) else attempt.attempt_id
        if attempt_id:
            await self.backend.release(_check_key(key), attempt_id)

    async def reset(self, key: str) -> None:
        """Forget the failures and the lock of ``key``, e.g. after a successful login.

        Args:
            key: What to throttle.
        """
        await self.backend.reset(_check_key(key))

    def _result(self, state: ThrottleState) -> ThrottleResult:
        if state.locked_for > 0:
            return ThrottleResult(ThrottleStatus.LOCKED, 0, max(1, math.ceil(state.locked_for)))
        return ThrottleResult(ThrottleStatus.ALLOWED, max(0, self.max_attempts - state.failures), 0)


def _positive(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number of seconds, got {type(value).__name__}")
    if not value > 0 or math.isinf(value):
        raise ValueError(f"{name} must be a positive, finite number of seconds, got {value}")
    return value


def _check_key(key: str) -> str:
    if not isinstance(key, str):
        raise TypeError(f"the throttle key must be a string, got {type(key).__name__}")
    if not key:
        raise ValueError("the throttle key must not be empty, e.g. f'login:{email}'")
    return key
