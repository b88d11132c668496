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
- Count failures after the check: :meth:`AttemptThrottle.check` (``is
  ThrottleStatus.LOCKED`` refuses), then :meth:`AttemptThrottle.record_failure` when the
  check failed. Simpler, but requests sent at the same time all pass ``check`` before any
  failure is recorded.

The window is a sliding one: the key locks when ``max_attempts`` attempts (or failures)
happened within any span of ``window_seconds``. When the lock is set they are forgotten,
so the user gets the full number of attempts back once the lock expires. Attempts made
while the key is locked do not extend the lock.

:meth:`AttemptThrottle.check` answers a :class:`ThrottleStatus`; :meth:`AttemptThrottle.inspect`,
``attempt`` and ``record_failure`` return a :class:`ThrottleResult` whose ``status`` is that
same enum, with ``attempts_left`` and ``retry_after_seconds`` (for the ``Retry-After``
header). A backend that cannot be reached raises :class:`ThrottleUnavailableError`.

The package holds the shared vocabulary (``base``), the policy (``attempts``) and one
module per backend (``memory``, ``redis``); import the names from here.
"""

from tempest.utils.throttle.attempts import AttemptThrottle
from tempest.utils.throttle.base import (
    AttemptState,
    ThrottleBackend,
    ThrottleResult,
    ThrottleState,
    ThrottleStatus,
    ThrottleUnavailableError,
)
from tempest.utils.throttle.memory import MemoryThrottleBackend
from tempest.utils.throttle.redis import RedisThrottleBackend

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
