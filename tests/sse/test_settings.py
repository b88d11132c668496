"""The SSE_* settings choose the hub's backend and limits; no code change between them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from tempest.conf import Settings, settings
from tempest.sse import get_event_hub, project
from tempest.sse.backends import MemoryEventBackend
from tempest.sse.redis_backend import RedisEventBackend

REDIS = "redis://127.0.0.1:6379/5"
GRACEFUL = ["tempest.api.middleware.GracefulShutdownMiddleware"]


@pytest.fixture
def configure() -> Iterator[Any]:
    def apply(**values: Any) -> None:
        settings.configure(Settings(**values))  # type: ignore[attr-defined]
        project.reset_event_hub()

    yield apply
    settings.reset()  # type: ignore[attr-defined]
    project.reset_event_hub()


@pytest.mark.parametrize(
    ("values", "backend"),
    [
        ({}, MemoryEventBackend),
        ({"REDIS_URL": REDIS}, RedisEventBackend),
        ({"REDIS_URL": REDIS, "SSE_URL": "memory://"}, MemoryEventBackend),
        ({"SSE_URL": REDIS}, RedisEventBackend),
    ],
    ids=["nothing", "redis-url", "explicit-memory", "own-url"],
)
@pytest.mark.anyio
async def test_the_backend_follows_sse_url_then_redis_url(
    configure: Any, values: dict[str, Any], backend: type
) -> None:
    configure(SSE_HISTORY_SIZE=7, SSE_MAX_QUEUED=3, **values)
    hub = get_event_hub()
    assert isinstance(hub.backend, backend)
    assert hub.backend.history_size == 7  # type: ignore[attr-defined]
    assert hub.max_queued == 3
    assert get_event_hub() is hub
    await project.close_event_hub()


@pytest.mark.parametrize(
    ("values", "retry"),
    [
        ({}, 1000),
        ({"MIDDLEWARE": GRACEFUL, "GRACEFUL_SHUTDOWN_DRAIN_SECONDS": 3}, 4000),
        ({"MIDDLEWARE": GRACEFUL, "SSE_SHUTDOWN_RETRY_MS": 250}, 250),
    ],
    ids=["default", "after-the-drain", "explicit"],
)
def test_the_shutdown_retry_hint_outlasts_the_drain(
    configure: Any, values: dict[str, Any], retry: int
) -> None:
    configure(**values)
    assert project.default_options().shutdown_retry_ms == retry


@pytest.mark.parametrize(
    ("values", "name"),
    [
        ({"SSE_URL": "http://example.com"}, "SSE_URL"),
        ({"SSE_HISTORY_SIZE": -1}, "SSE_HISTORY_SIZE"),
        ({"SSE_MAX_QUEUED": 0}, "SSE_MAX_QUEUED"),
        ({"SSE_HISTORY_TTL_SECONDS": 0}, "SSE_HISTORY_TTL_SECONDS"),
    ],
)
def test_bad_sse_settings_are_refused_by_name(values: dict[str, Any], name: str) -> None:
    with pytest.raises(ValidationError, match=name):
        Settings(**values)


def test_without_a_settings_module_the_hub_is_in_process() -> None:
    project.reset_event_hub()
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.delenv("TEMPEST_SETTINGS_MODULE", raising=False)
            settings.reset()  # type: ignore[attr-defined]
            assert project.default_options() == project.Options()
    finally:
        settings.reset()  # type: ignore[attr-defined]
        project.reset_event_hub()
