"""Where flags are read from: the backend protocol and the in-process backends.

A backend answers :meth:`FeatureFlagBackend.load` with every flag it defines; the
:class:`~tempest.flags.FeatureFlags` front keeps that as its local snapshot and evaluates
flags from it, so a backend is asked only when something changed (its :meth:`watch` says
so) or on a periodic reload. :class:`CompositeFeatureFlagBackend` stacks backends: the
first one that defines a flag decides it.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from tempest.flags.state import FlagState, InvalidFlagError, check_flag_name, coerce_flag

__all__ = [
    "ChangeCallback",
    "CompositeFeatureFlagBackend",
    "EnvFeatureFlagBackend",
    "FeatureFlagBackend",
    "MemoryFeatureFlagBackend",
    "ReadOnlyFlagBackendError",
]

logger = logging.getLogger("tempest.flags")

ChangeCallback = Callable[[], None]
"""Called by a backend's :meth:`~FeatureFlagBackend.watch` when its flags may have changed."""


class ReadOnlyFlagBackendError(RuntimeError):
    """A write to a backend that cannot store flags (the environment, settings)."""


class FeatureFlagBackend:
    """Base class of flag backends.

    Subclasses implement :meth:`load`; writable ones also :meth:`set` and :meth:`delete`,
    and those whose flags change outside this process :meth:`watch`.

    Attributes:
        label: Short name shown by ``manage.py flags list`` (``"env"``, ``"redis"``...).
        read_only: True when :meth:`set` and :meth:`delete` are refused.
        logs_outages: True when the backend logs its own outages (once when it goes
            away, once when it is back), so that callers do not log them again.
    """

    label: str = "backend"
    read_only: bool = True
    logs_outages: bool = False

    async def load(self) -> dict[str, FlagState]:
        """Every flag this backend defines, by name.

        Raises:
            Exception: The backend cannot be read (the caller keeps its last snapshot).
        """
        raise NotImplementedError

    async def set(self, name: str, state: FlagState) -> None:
        """Store ``state`` for flag ``name`` and tell every watcher.

        Raises:
            ReadOnlyFlagBackendError: The backend cannot store flags.
        """
        raise ReadOnlyFlagBackendError(f"the {self.label} flag backend is read-only")

    async def delete(self, name: str) -> None:
        """Forget flag ``name`` (a backend after this one decides it again).

        Raises:
            ReadOnlyFlagBackendError: The backend cannot store flags.
        """
        raise ReadOnlyFlagBackendError(f"the {self.label} flag backend is read-only")

    async def watch(self, on_change: ChangeCallback) -> None:
        """Call ``on_change`` whenever the flags may have changed; runs until cancelled.

        Also called once the backend is (again) reachable, since changes may have been
        missed meanwhile. The default has nothing to report and waits to be cancelled.
        """
        await asyncio.Event().wait()

    async def health_check(self) -> bool:
        """True when the backend can be read."""
        return True

    async def aclose(self) -> None:
        """Release connections; the backend is not used after this."""


class MemoryFeatureFlagBackend(FeatureFlagBackend):
    """Flags in this process's memory: defaults, tests, and single-process projects.

    A write is seen at once by the :class:`~tempest.flags.FeatureFlags` of this process
    that watch it, and by no other process.
    """

    def __init__(
        self,
        flags: Mapping[str, Any] | None = None,
        *,
        read_only: bool = False,
        label: str = "memory",
    ) -> None:
        """Start with ``flags`` (name -> any value :func:`coerce_flag` reads).

        Args:
            flags: The initial flags.
            read_only: Refuse :meth:`set` and :meth:`delete` (defaults from settings).
            label: Name shown by ``manage.py flags list``.

        Raises:
            InvalidFlagError: A name or a value cannot be used; the message names it.
        """
        self._flags: dict[str, FlagState] = {}
        for name, value in (flags or {}).items():
            try:
                self._flags[check_flag_name(name)] = coerce_flag(value)
            except InvalidFlagError as exc:
                raise InvalidFlagError(f"flag {name!r}: {exc}") from None
        self.read_only = read_only
        self.label = label
        self._listeners: list[ChangeCallback] = []

    async def load(self) -> dict[str, FlagState]:
        """A copy of the flags."""
        return dict(self._flags)

    async def set(self, name: str, state: FlagState) -> None:
        """Store ``state`` for ``name``; watchers in this process are told at once."""
        if self.read_only:
            await super().set(name, state)
        self._flags[check_flag_name(name)] = coerce_flag(state)
        self._changed()

    async def delete(self, name: str) -> None:
        """Forget ``name``; watchers in this process are told at once."""
        if self.read_only:
            await super().delete(name)
        self._flags.pop(name, None)
        self._changed()

    async def watch(self, on_change: ChangeCallback) -> None:
        """Call ``on_change`` after each write, until cancelled."""
        self._listeners.append(on_change)
        try:
            await asyncio.Event().wait()
        finally:
            self._listeners.remove(on_change)

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()


class EnvFeatureFlagBackend(FeatureFlagBackend):
    """Flags from environment variables: ``FLAG_NEW_CHECKOUT=on`` turns ``new-checkout`` on.

    Every variable starting with ``prefix`` is a flag. Its name is the rest in lower case,
    or the known name (``names``) it spells with ``-`` and ``.`` written as ``_``, since
    environment variables cannot hold them portably: with ``names=["new-checkout"]``,
    ``FLAG_NEW_CHECKOUT`` sets ``new-checkout``; without, ``new_checkout``. Values are
    what :func:`coerce_flag` reads: ``on``/``off``, ``true``/``false``, ``1``/``0``,
    ``25%``. A variable that cannot be read is skipped with a warning naming it.
    Read-only: the environment is fixed when the process starts.
    """

    label = "env"
    read_only = True

    def __init__(
        self,
        prefix: str = "FLAG_",
        environ: Mapping[str, str] | None = None,
        *,
        names: Iterable[str] = (),
    ) -> None:
        """Read variables starting with ``prefix`` from ``environ`` (``os.environ``).

        Args:
            prefix: What the variables start with.
            environ: The variables; ``os.environ`` when None.
            names: Known flag names (the keys of ``FEATURE_FLAGS``), matched with ``-``
                and ``.`` spelled ``_``.

        Raises:
            ValueError: ``prefix`` is empty (every variable would be a flag).
        """
        if not prefix:
            raise ValueError("EnvFeatureFlagBackend needs a prefix such as 'FLAG_'")
        self.prefix = prefix
        self._environ = os.environ if environ is None else environ
        self._known = {self.variable(name): name for name in names}
        self._reported: set[str] = set()

    def variable(self, name: str) -> str:
        """The variable that would define flag ``name`` (``-`` and ``.`` read as ``_``)."""
        return self.prefix + name.replace("-", "_").replace(".", "_").upper()

    async def load(self) -> dict[str, FlagState]:
        """The flags the environment defines now."""
        found: dict[str, FlagState] = {}
        for variable, value in list(self._environ.items()):
            if not variable.startswith(self.prefix) or variable == self.prefix:
                continue
            try:
                name = self._known.get(variable) or variable[len(self.prefix) :].lower()
                found[check_flag_name(name)] = coerce_flag(value)
            except InvalidFlagError as exc:
                if variable not in self._reported:  # once per variable, not per reload
                    self._reported.add(variable)
                    logger.warning(
                        "Feature flags: environment variable %s skipped: %s", variable, exc
                    )
        return found


class CompositeFeatureFlagBackend(FeatureFlagBackend):
    """Several backends as one: for each flag, the first backend that defines it wins.

    The order is the precedence, highest first. The project's flags are, in this order:
    the environment (an operator's override at deploy time, e.g. a kill switch), the
    shared store (Redis, or this process's memory: what ``manage.py flags`` and
    :meth:`FeatureFlags.enable` write), and the ``FEATURE_FLAGS`` setting (the defaults in
    code). A flag's whole state comes from one backend: a percentage in Redis is not
    combined with an ``off`` in the environment, the environment wins.

    Writes go to ``writer``: by default the first backend that is not read-only.

    When one backend cannot be read, the flags it gave last time are kept for it (empty
    if it never answered) and the others are still read; one warning is logged when it
    goes away and one when it is back.
    """

    label = "composite"

    def __init__(
        self, backends: Iterable[FeatureFlagBackend], *, writer: FeatureFlagBackend | None = None
    ) -> None:
        """Stack ``backends``, highest precedence first.

        Raises:
            ValueError: No backend, or a ``writer`` that is not one of them.
        """
        self.backends = tuple(backends)
        if not self.backends:
            raise ValueError("CompositeFeatureFlagBackend needs at least one backend")
        if writer is None:
            writer = next((backend for backend in self.backends if not backend.read_only), None)
        elif writer not in self.backends:
            raise ValueError("the writer must be one of the composite's backends")
        self.writer = writer
        self.read_only = writer is None
        self._last: list[dict[str, FlagState]] = [{} for _ in self.backends]
        self._failing: set[int] = set()

    async def load_layers(self) -> list[tuple[FeatureFlagBackend, dict[str, FlagState]]]:
        """Each backend with its flags, in precedence order (last known for a failing one)."""
        results = await asyncio.gather(
            *(backend.load() for backend in self.backends), return_exceptions=True
        )
        for index, (backend, result) in enumerate(zip(self.backends, results, strict=True)):
            if isinstance(result, BaseException):
                if not isinstance(result, Exception):
                    raise result
                if index not in self._failing:
                    self._failing.add(index)
                    if backend.logs_outages:
                        continue
                    logger.warning(
                        "Feature flags: the %s backend cannot be read (%s: %s); serving its "
                        "last known flags",
                        backend.label,
                        type(result).__name__,
                        result,
                    )
                continue
            if index in self._failing:
                self._failing.discard(index)
                if not backend.logs_outages:
                    logger.warning("Feature flags: the %s backend answers again", backend.label)
            self._last[index] = result
        return list(zip(self.backends, self._last, strict=True))

    async def load(self) -> dict[str, FlagState]:
        """The flags of all backends; for each name, the first backend's state."""
        merged: dict[str, FlagState] = {}
        for _backend, flags in reversed(await self.load_layers()):
            merged.update(flags)
        return merged

    async def set(self, name: str, state: FlagState) -> None:
        """Store ``state`` in the writer backend.

        Raises:
            ReadOnlyFlagBackendError: Every backend is read-only.
        """
        await self._writer().set(name, state)

    async def delete(self, name: str) -> None:
        """Forget ``name`` in the writer backend."""
        await self._writer().delete(name)

    async def watch(self, on_change: ChangeCallback) -> None:
        """Watch every backend at once."""
        async with asyncio.TaskGroup() as group:
            for backend in self.backends:
                group.create_task(backend.watch(on_change))

    async def health_check(self) -> bool:
        """True when every backend answers."""
        results = await asyncio.gather(*(backend.health_check() for backend in self.backends))
        return all(results)

    async def aclose(self) -> None:
        """Close every backend."""
        for backend in self.backends:
            await backend.aclose()

    def _writer(self) -> FeatureFlagBackend:
        if self.writer is None:
            raise ReadOnlyFlagBackendError(
                "every backend of this composite is read-only: add a writable one "
                "(RedisFeatureFlagBackend, MemoryFeatureFlagBackend)"
            )
        return self.writer
