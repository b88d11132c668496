"""In-process backends, the composite's precedence, and FeatureFlags over them."""

from __future__ import annotations

import asyncio
import logging

import pytest

from tempest.flags import (
    CompositeFeatureFlagBackend,
    EnvFeatureFlagBackend,
    FeatureFlagBackend,
    FeatureFlags,
    FlagState,
    InvalidFlagError,
    MemoryFeatureFlagBackend,
    ReadOnlyFlagBackendError,
)

pytestmark = pytest.mark.anyio

ON, OFF = FlagState(True), FlagState(False)


class BrokenBackend(FeatureFlagBackend):
    """A backend that answers until ``down`` is set, then raises like an unreachable server."""

    label = "broken"

    def __init__(self, flags: dict[str, FlagState]) -> None:
        self.flags = flags
        self.down = False

    async def load(self) -> dict[str, FlagState]:
        if self.down:
            raise ConnectionError("connection refused")
        return dict(self.flags)


async def test_memory_backend_reads_writes_and_refuses_bad_input() -> None:
    backend = MemoryFeatureFlagBackend({"beta": True, "search": "25%"})
    assert await backend.load() == {"beta": ON, "search": FlagState(True, 25)}
    await backend.set("beta", OFF)
    await backend.delete("search")
    assert await backend.load() == {"beta": OFF}
    with pytest.raises(InvalidFlagError, match="flag 'new checkout': invalid flag name"):
        MemoryFeatureFlagBackend({"new checkout": True})
    with pytest.raises(InvalidFlagError, match="flag 'beta': percentage 150 is outside 0 to 100"):
        MemoryFeatureFlagBackend({"beta": 150})
    frozen = MemoryFeatureFlagBackend({"beta": True}, read_only=True, label="settings")
    with pytest.raises(ReadOnlyFlagBackendError, match="settings flag backend is read-only"):
        await frozen.set("beta", OFF)


async def test_env_backend_reads_prefixed_variables_and_skips_bad_ones_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    environ = {
        "FLAG_NEW_CHECKOUT": "on",
        "FLAG_SEARCH_V2": "25%",
        "FLAG_KILL": "off",
        "FLAG_TYPO": "maybe",
        "FLAG_": "on",
        "OTHER": "on",
    }
    backend = EnvFeatureFlagBackend("FLAG_", environ)
    with caplog.at_level(logging.WARNING, logger="tempest.flags"):
        first = await backend.load()
        await backend.load()
    assert first == {"new_checkout": ON, "search_v2": FlagState(True, 25), "kill": OFF}
    skipped = [r.getMessage() for r in caplog.records if "FLAG_TYPO" in r.getMessage()]
    assert len(skipped) == 1 and "cannot read 'maybe' as a flag" in skipped[0]
    assert backend.variable("new-checkout") == "FLAG_NEW_CHECKOUT"
    # Known names are matched with '-' and '.' spelled '_'.
    known = EnvFeatureFlagBackend("FLAG_", environ, names=["new-checkout", "search.v2"])
    assert set(await known.load()) == {"new-checkout", "search.v2", "kill"}
    with pytest.raises(ReadOnlyFlagBackendError):
        await backend.set("kill", ON)
    with pytest.raises(ValueError, match="needs a prefix"):
        EnvFeatureFlagBackend("")


async def test_composite_precedence_first_backend_that_defines_a_flag_wins() -> None:
    env = EnvFeatureFlagBackend("FLAG_", {"FLAG_KILL_SWITCH": "off"})
    store = MemoryFeatureFlagBackend({"kill_switch": True, "rollout": "25%"})
    defaults = MemoryFeatureFlagBackend(
        {"kill_switch": True, "rollout": False, "only_default": True}, read_only=True
    )
    composite = CompositeFeatureFlagBackend([env, store, defaults])
    assert await composite.load() == {
        "kill_switch": OFF,  # the environment beats the store and the defaults
        "rollout": FlagState(True, 25),  # the store beats the defaults, whole state
        "only_default": ON,
    }
    # Writes go to the first writable backend (the store), and a reset falls back.
    assert composite.writer is store
    await composite.set("only_default", OFF)
    assert (await composite.load())["only_default"] == OFF
    await composite.delete("only_default")
    assert (await composite.load())["only_default"] == ON
    # Every backend read-only: writing says so.
    read_only = CompositeFeatureFlagBackend([env, defaults])
    with pytest.raises(ReadOnlyFlagBackendError, match="every backend of this composite"):
        await read_only.set("x", ON)
    with pytest.raises(ValueError, match="at least one backend"):
        CompositeFeatureFlagBackend([])
    with pytest.raises(ValueError, match="writer must be one of"):
        CompositeFeatureFlagBackend([env], writer=store)


async def test_a_failing_backend_keeps_its_last_flags_and_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    shared = BrokenBackend({"beta": ON})
    composite = CompositeFeatureFlagBackend([shared, MemoryFeatureFlagBackend({"other": True})])
    assert await composite.load() == {"beta": ON, "other": ON}
    shared.down = True
    with caplog.at_level(logging.WARNING, logger="tempest.flags"):
        for _ in range(5):
            assert await composite.load() == {"beta": ON, "other": ON}
        shared.down = False
        shared.flags = {"beta": OFF}
        assert await composite.load() == {"beta": OFF, "other": ON}
    messages = [record.getMessage() for record in caplog.records]
    assert sum("broken backend cannot be read" in m for m in messages) == 1, messages
    assert sum("broken backend answers again" in m for m in messages) == 1, messages


async def test_feature_flags_evaluate_from_the_snapshot_and_follow_writes() -> None:
    store = MemoryFeatureFlagBackend({"beta": True})
    writer, reader = FeatureFlags(store), FeatureFlags(store)
    await writer.start()
    await reader.start()
    try:
        assert reader.is_enabled("beta") and "beta" in reader
        assert reader.is_enabled("unknown") is False
        assert reader.is_enabled("unknown", default=True) is True
        await writer.set_percentage("beta", 25)
        assert writer.get("beta") == FlagState(True, 25)  # the writer sees it at once
        for _ in range(100):  # the other watcher, on its next turn of the loop
            if reader.get("beta") == FlagState(True, 25):
                break
            await asyncio.sleep(0.01)
        assert reader.get("beta") == FlagState(True, 25)
        subjects = [f"user-{i}" for i in range(2000)]
        answers = [reader.is_enabled("beta", s) for s in subjects]
        assert answers == [writer.is_enabled("beta", s) for s in subjects]
        assert 400 <= sum(answers) <= 600
        await writer.disable("beta")
        await writer.enable("new")
        assert writer.all() == {"beta": OFF, "new": ON}
        await writer.reset("new")
        assert "new" not in writer
        with pytest.raises(InvalidFlagError, match="invalid flag name 'new checkout'"):
            await writer.enable("new checkout")
        with pytest.raises(InvalidFlagError, match="percentage 101 is outside 0 to 100"):
            await writer.set_percentage("beta", 101)
        assert await writer.health_check() is True
    finally:
        await writer.aclose()
        await reader.aclose()


async def test_an_unreachable_backend_at_start_does_not_raise(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken = BrokenBackend({"beta": ON})
    broken.down = True
    flags = FeatureFlags(broken, reload_seconds=0.01)
    with caplog.at_level(logging.WARNING, logger="tempest.flags"):
        await flags.start()
        assert flags.is_enabled("beta") is False and flags.loaded is False
        await asyncio.sleep(0.1)  # several periodic reloads fail: one warning
        broken.down = False
        for _ in range(100):
            if flags.is_enabled("beta"):
                break
            await asyncio.sleep(0.01)
    await flags.aclose()
    assert flags.is_enabled("beta")
    messages = [record.getMessage() for record in caplog.records]
    assert sum("cannot load from the broken backend" in m for m in messages) == 1, messages
    assert sum("broken backend answers again" in m for m in messages) == 1, messages
