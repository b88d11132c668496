"""Brute-force protection: count failed attempts per key and lock the key for a while.

:class:`AttemptThrottle` holds the policy (how many failures inside which window lock the
key, and for how long); a :class:`ThrottleBackend` keeps the counts. Two backends ship:
:class:`MemoryThrottleBackend` for one process and tests, :class:`RedisThrottleBackend`
for several processes or hosts.

Two ways to use it:

- Reserve first (what the bundled sign-in does): :meth:`AttemptThrottle.attempt` counts the
  attempt atomically *before* the expensive check (bcrypt, a TOTP code) and answers
  ALLOWED or LOCKED, so at most ``max_attempts`` guesses are ever evaluated per window, even
  when hundreds arrive at the same moment. A success then calls :meth:`AttemptThrottle.reset`
  (or :meth:`AttemptThrottle.release` to give back only its own attempt).
- Count failures after the check: :meth:`AttemptThrottle.check`, then
  :meth:`AttemptThrottle.record_failure` when the check failed. Simpler, but requests sent
  at the same time all pass ``check`` before any failure is recorded.

The window is a sliding one: the key locks when ``max_attempts`` attempts (or failures)
happened within any span of ``window_seconds``. When the lock is set they are forgotten,
so the user gets the full number of attempts back once the lock expires. Attempts made
while the key is locked do not extend the lock.

These methods return a :class:`ThrottleResult`; compare its ``status`` with
``is ThrottleStatus.LOCKED``, and use ``retry_after_seconds`` for the ``Retry-After``
header. A backend that cannot be reached raises :class:`ThrottleUnavailableError`.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, runtime_checkable

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = [
    "AttemptState",
    "AttemptThrottle",
    "MemoryThrottleBackend",
    "RedisThrottleBackend",
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

    async def check(self, key: str) -> ThrottleResult:
        """Tell whether ``key`` may make an attempt now, without counting one.

        Args:
            key: What to throttle, e.g. ``f"login:{email}"``.

        Returns:
            The key's status, attempts left and seconds until the lock expires.
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


# KEYS[1]: sorted set of failure times (ms); KEYS[2]: lock flag with a TTL.
# The server clock is used so that hosts with skewed clocks agree.
_LUA_NOW = """
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
"""

_LUA_CHECK = (
    _LUA_NOW
    + """
local locked_for = redis.call('PTTL', KEYS[2])
if locked_for > 0 then return {0, locked_for} end
local since = string.format('(%d', now - tonumber(ARGV[1]))
return {redis.call('ZCOUNT', KEYS[1], since, '+inf'), 0}
"""
)

# ARGV: max_attempts, window_ms, lock_ms, a unique member for this failure.
_LUA_RECORD_FAILURE = (
    _LUA_NOW
    + """
local locked_for = redis.call('PTTL', KEYS[2])
if locked_for > 0 then return {0, locked_for} end
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', now - window))
redis.call('ZADD', KEYS[1], string.format('%d', now), ARGV[4])
local failures = redis.call('ZCARD', KEYS[1])
if failures >= tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
  return {0, tonumber(ARGV[3])}
end
redis.call('PEXPIRE', KEYS[1], window)
return {failures, 0}
"""
)


# ARGV: max_attempts, window_ms, lock_ms, the attempt's id. Reply: {allowed, attempts, lock_ms}.
_LUA_ATTEMPT = (
    _LUA_NOW
    + """
local locked_for = redis.call('PTTL', KEYS[2])
if locked_for > 0 then return {0, 0, locked_for} end
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', now - window))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
  return {0, 0, tonumber(ARGV[3])}
end
redis.call('ZADD', KEYS[1], string.format('%d', now), ARGV[4])
redis.call('PEXPIRE', KEYS[1], window)
return {1, redis.call('ZCARD', KEYS[1]), 0}
"""
)


class RedisThrottleBackend:
    """Keep the counts in Redis, shared by every process and host using the same server.

    Each operation is one Lua script run by its SHA, on the Redis server's clock, so
    concurrent attempts from several processes are counted exactly and the lock is set
    once. Keys expire on their own; nothing needs cleaning up. A Redis error or an
    unreachable server raises :class:`ThrottleUnavailableError`.
    """

    def __init__(self, client: Redis, *, prefix: str = "tempest:throttle:") -> None:
        """Use an existing ``redis.asyncio.Redis`` client.

        Args:
            client: The client; it stays owned by the caller.
            prefix: Prepended to every Redis key this backend writes.

        Raises:
            TypeError: ``client`` is not a ``redis.asyncio`` client.
        """
        if not callable(getattr(client, "register_script", None)):
            raise TypeError(
                f"client must be a redis.asyncio.Redis client, got {type(client).__name__}; "
                "or use RedisThrottleBackend.from_url(url)"
            )
        self.client = client
        self.prefix = prefix
        self._owns_client = False
        self._check = client.register_script(_LUA_CHECK)
        self._record_failure = client.register_script(_LUA_RECORD_FAILURE)
        self._attempt = client.register_script(_LUA_ATTEMPT)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = "tempest:throttle:",
        timeout: float | None = 5.0,
        max_connections: int = 50,
    ) -> RedisThrottleBackend:
        """Connect to Redis at ``url``; close the backend with :meth:`aclose`.

        The connections come from a blocking pool: a burst of more concurrent requests
        than ``max_connections`` waits for a free connection (up to ``timeout``) instead
        of failing, as redis-py's default pool does past its size.

        Args:
            url: A Redis URL, e.g. ``redis://localhost:6379/0``.
            prefix: Prepended to every Redis key this backend writes.
            timeout: Seconds to wait for a connection, a free one in the pool or a reply
                before :class:`ThrottleUnavailableError`; None waits forever.
            max_connections: Connections this backend opens at most.

        Returns:
            A backend that owns its client.

        Raises:
            ImportError: The ``redis`` package is not installed.
        """
        try:
            from redis.asyncio import BlockingConnectionPool, Redis
        except ImportError as exc:  # pragma: no cover - depends on the installed extras
            raise ImportError(
                "RedisThrottleBackend needs the redis package: "
                'pip install "tempest-framework[cache]"'
            ) from exc
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=timeout,
            socket_connect_timeout=timeout,
            socket_timeout=timeout,
        )
        backend = cls(Redis(connection_pool=pool), prefix=prefix)
        backend._owns_client = True
        return backend

    async def aclose(self) -> None:
        """Close the client if :meth:`from_url` created it; a client passed in stays open."""
        if self._owns_client:
            await self.client.aclose(close_connection_pool=True)

    async def check(self, key: str, *, window_seconds: float) -> ThrottleState:
        """Return the state of ``key`` without changing it (see :class:`ThrottleBackend`).

        Args:
            key: The throttled key.
            window_seconds: Only failures this recent count.

        Returns:
            The key's state.
        """
        async with _unavailable():
            reply = await self._check(keys=self._keys(key), args=[_ms(window_seconds)])
        return _state(reply)

    async def record_failure(
        self, key: str, *, max_attempts: int, window_seconds: float, lock_seconds: float
    ) -> ThrottleState:
        """Record a failure atomically (see :meth:`ThrottleBackend.record_failure`).

        Args:
            key: The throttled key.
            max_attempts: Failures inside the window that lock the key.
            window_seconds: Span of the sliding window.
            lock_seconds: How long the lock lasts.

        Returns:
            The key's state after the failure.
        """
        async with _unavailable():
            reply = await self._record_failure(
                keys=self._keys(key),
                args=[max_attempts, _ms(window_seconds), _ms(lock_seconds), uuid.uuid4().hex],
            )
        return _state(reply)

    async def attempt(
        self,
        key: str,
        attempt_id: str,
        *,
        max_attempts: int,
        window_seconds: float,
        lock_seconds: float,
    ) -> AttemptState:
        """Count an attempt or refuse it, atomically (see :meth:`ThrottleBackend.attempt`).

        Args:
            key: The throttled key.
            attempt_id: A unique id for this attempt.
            max_attempts: Attempts allowed inside the window.
            window_seconds: Span of the sliding window.
            lock_seconds: How long the lock lasts.

        Returns:
            Whether the attempt is allowed, with the count or the lock left.
        """
        async with _unavailable():
            allowed, attempts, locked_ms = await self._attempt(
                keys=self._keys(key),
                args=[max_attempts, _ms(window_seconds), _ms(lock_seconds), attempt_id],
            )
        return AttemptState(bool(allowed), int(attempts), int(locked_ms) / 1000)

    async def release(self, key: str, attempt_id: str) -> None:
        """Forget one attempt (see :meth:`ThrottleBackend.release`).

        Args:
            key: The throttled key.
            attempt_id: The id given to :meth:`attempt`.
        """
        async with _unavailable():
            await self.client.zrem(self._keys(key)[0], attempt_id)

    async def reset(self, key: str) -> None:
        """Forget ``key``.

        Args:
            key: The throttled key.
        """
        async with _unavailable():
            await self.client.delete(*self._keys(key))

    def _keys(self, key: str) -> list[str]:
        # The {hash tag} keeps both keys in one Redis Cluster slot, as a script requires.
        base = f"{self.prefix}{{{key}}}"
        return [f"{base}:failures", f"{base}:lock"]


@asynccontextmanager
async def _unavailable() -> AsyncIterator[None]:
    """Turn a Redis or network error into :class:`ThrottleUnavailableError`."""
    from redis.exceptions import RedisError

    try:
        yield
    except (RedisError, OSError) as error:
        raise ThrottleUnavailableError(
            f"the throttle's Redis could not be reached: {type(error).__name__}: {error}"
        ) from error


def _state(reply: Any) -> ThrottleState:
    failures, locked_ms = reply
    return ThrottleState(int(failures), int(locked_ms) / 1000)


def _ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


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
