"""The flags a process evaluates: :class:`FeatureFlags`, a local snapshot of a backend.

Evaluating a flag reads a dict in this process (about a microsecond, no I/O). The snapshot
is replaced when the backend reports a change (Redis pub/sub: within milliseconds in every
process), every ``reload_seconds`` as a safety net, and after each write made through this
object. When the backend cannot be read, the last snapshot keeps serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from tempest.flags.backends import FeatureFlagBackend, MemoryFeatureFlagBackend
from tempest.flags.state import FlagState, check_flag_name, coerce_flag, parse_percentage

__all__ = ["FeatureFlags"]

logger = logging.getLogger("tempest.flags")


class FeatureFlags:
    """Feature flags evaluated from a local snapshot of ``backend``.

    Example:
        ```python
        flags = FeatureFlags(RedisFeatureFlagBackend.from_url("redis://localhost/0"))
        await flags.start()                       # load, then follow changes
        if flags.is_enabled("new-checkout", subject=user.id):
            ...
        await flags.set_percentage("new-checkout", 25)   # every process sees it
        await flags.aclose()
        ```
    """

    def __init__(
        self,
        backend: FeatureFlagBackend | None = None,
        *,
        reload_seconds: float = 30.0,
    ) -> None:
        """Evaluate flags from ``backend`` (default: an empty in-memory one).

        Args:
            backend: Where the flags are read and written.
            reload_seconds: Full reload period, besides the backend's change notices.
        """
        self.backend = backend if backend is not None else MemoryFeatureFlagBackend()
        self.reload_seconds = reload_seconds
        self._snapshot: dict[str, FlagState] = {}
        # Made by start(): an event belongs to the loop that first waits on it, and one
        # FeatureFlags may be started again in another loop (an app served by tests).
        self._wanted = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._generation = 0  # reloads started
        self._applied = 0  # generation of the snapshot in use
        self._failing = False
        self.loaded = False

    # -- evaluation (no I/O) ----------------------------------------------------------

    def is_enabled(self, name: str, subject: object = None, *, default: bool = False) -> bool:
        """Whether flag ``name`` is on for ``subject``, from the local snapshot.

        Args:
            name: The flag.
            subject: Who asks (a user id, a tenant...): the key of percentage rollouts,
                hashed with the flag's name (see :func:`tempest.flags.state.bucket_of`).
                Without a subject, a flag in a partial rollout is off.
            default: The answer for a flag no backend defines.
        """
        state = self._snapshot.get(name)
        if state is None:
            return default
        return state.evaluate(name, subject)

    def get(self, name: str) -> FlagState | None:
        """The state of ``name`` in the snapshot, or None when no backend defines it."""
        return self._snapshot.get(name)

    def all(self) -> dict[str, FlagState]:
        """A copy of the snapshot: every known flag and its state."""
        return dict(self._snapshot)

    def __contains__(self, name: object) -> bool:
        return name in self._snapshot

    # -- writes (through the backend; every process follows) --------------------------

    async def set(self, name: str, value: Any) -> FlagState:
        """Store ``value`` (anything :func:`coerce_flag` reads) for ``name``.

        Returns:
            The state stored; this process's snapshot already has it.

        Raises:
            InvalidFlagError: The name or the value cannot be used.
            ReadOnlyFlagBackendError: The backend cannot store flags.
        """
        state = coerce_flag(value)
        await self.backend.set(check_flag_name(name), state)
        await self.refresh()
        return state

    async def enable(self, name: str) -> FlagState:
        """Turn ``name`` on for everyone."""
        return await self.set(name, FlagState(True))

    async def disable(self, name: str) -> FlagState:
        """Turn ``name`` off for everyone."""
        return await self.set(name, FlagState(False))

    async def set_percentage(self, name: str, percentage: float | str) -> FlagState:
        """Turn ``name`` on for ``percentage`` (0 to 100) of the subjects.

        Raises:
            InvalidFlagError: The percentage is outside 0 to 100.
        """
        return await self.set(name, FlagState(True, parse_percentage(percentage)))

    async def reset(self, name: str) -> None:
        """Forget the stored value of ``name``: a lower backend (the settings) decides again."""
        await self.backend.delete(check_flag_name(name))
        await self.refresh()

    # -- life cycle -------------------------------------------------------------------

    async def start(self) -> None:
        """Load the snapshot and follow the backend's changes; a no-op once started.

        Never raises for an unreachable backend: the snapshot stays as it is (empty at
        first, or what a composite's other backends give) and loading is retried.
        """
        if self._tasks:
            return
        self._wanted = asyncio.Event()
        self._tasks = [
            asyncio.create_task(self._follow(), name="tempest-flags-watch"),
            asyncio.create_task(self._reloader(), name="tempest-flags-reload"),
        ]
        await asyncio.sleep(0)  # watching starts before the load: no change falls between
        await self.refresh()

    async def aclose(self) -> None:
        """Stop following changes and close the backend."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            # Again until it ends: a client library may turn a cancellation that lands in
            # the middle of a command into an error of its own.
            while not task.done():
                task.cancel()
                await asyncio.wait([task], timeout=0.1)
        await self.backend.aclose()

    async def refresh(self) -> bool:
        """Reload the snapshot from the backend now.

        Returns:
            True when it was reloaded, False when the backend failed (logged once until
            it answers again; the last snapshot stays).
        """
        self._generation += 1
        generation = self._generation
        try:
            snapshot = await self.backend.load()
        except Exception as exc:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise asyncio.CancelledError from exc  # a cancellation the backend reworded
            if not self._failing:
                self._failing = True
                if self.backend.logs_outages:
                    return False
                logger.warning(
                    "Feature flags: cannot load from the %s backend (%s: %s); serving the "
                    "last known flags",
                    self.backend.label,
                    type(exc).__name__,
                    exc,
                )
            return False
        if self._failing:
            self._failing = False
            if not self.backend.logs_outages:
                logger.warning("Feature flags: the %s backend answers again", self.backend.label)
        if generation > self._applied:  # a reload started earlier may finish later
            self._applied = generation
            self._snapshot = snapshot
        self.loaded = True
        return True

    async def health_check(self) -> bool:
        """The backend's health check (readiness)."""
        return await self.backend.health_check()

    def _changed(self) -> None:
        self._wanted.set()

    async def _follow(self) -> None:
        try:
            await self.backend.watch(self._changed)
        except Exception:
            # A backend's bug, not an outage (backends retry those): the periodic reload
            # still runs, so say it once and go on without change notices.
            logger.exception(
                "Feature flags: watching the %s backend failed; changes are now picked up "
                "every %gs only",
                self.backend.label,
                self.reload_seconds,
            )

    async def _reloader(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.reload_seconds):
                    await self._wanted.wait()
            self._wanted.clear()
            await self.refresh()

    def __repr__(self) -> str:
        return f"<FeatureFlags {self.backend.label}: {len(self._snapshot)} flag(s)>"
