"""``manage.py flags``: list, enable, disable, set; bad input is one line and non-zero."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tempest.flags import FeatureFlags, FlagState, RedisFeatureFlagBackend
from tests.conftest import service_url
from tests.helpers import manage, one_line_error, tempest

pytestmark = pytest.mark.e2e

DEFAULTS = json.dumps({"beta": True, "search-v2": "10%"})


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new project; the command reads settings only (no migrations needed)."""
    root = tmp_path_factory.mktemp("flags-command")
    created = tempest(root, "startproject", "shop")
    assert created.returncode == 0, created.stderr
    return root / "shop"


@pytest.fixture
def redis_env() -> Iterator[dict[str, str]]:
    """Settings naming the suite's Redis and a hash of this test alone (deleted after)."""
    url = service_url("TEMPEST_TEST_REDIS_URL")
    key = f"tempest:test-flags:{uuid.uuid4().hex[:8]}"
    yield {"REDIS_URL": url, "FEATURE_FLAGS_REDIS_KEY": key, "FEATURE_FLAGS": DEFAULTS}

    async def forget() -> None:
        from redis.asyncio import Redis

        client = Redis.from_url(url)
        try:
            await client.delete(key)
        finally:
            await client.aclose()

    asyncio.run(forget())


def test_list_in_memory_shows_settings_and_environment_but_cannot_change(project: Path) -> None:
    listed = manage(project, "flags", "list", FEATURE_FLAGS=DEFAULTS, FLAG_BETA="off")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines() == [
        "FLAG       STATE  SOURCE",
        "beta       off    env",
        "search-v2  10%    settings",
    ]
    refused = manage(project, "flags", "enable", "beta", FEATURE_FLAGS=DEFAULTS)
    assert one_line_error(refused).startswith(
        "Error: Feature flags changed at run time live in each process's memory here: set REDIS_URL"
    )
    assert refused.returncode == 1


def test_changes_reach_a_running_process_within_a_second(
    project: Path, redis_env: dict[str, str]
) -> None:
    async def scenario() -> None:
        backend = RedisFeatureFlagBackend.from_url(
            redis_env["REDIS_URL"], key=redis_env["FEATURE_FLAGS_REDIS_KEY"]
        )
        flags = FeatureFlags(backend)
        await flags.start()
        try:
            for args, expected in (
                (("set", "beta", "25"), FlagState(True, 25)),
                (("disable", "beta"), FlagState(False)),
                (("enable", "brand-new", "--create"), FlagState(True)),
            ):
                name = args[1]
                done = await asyncio.to_thread(
                    manage,
                    project,
                    "flags",
                    *args,
                    **redis_env,  # type: ignore[arg-type]
                )
                assert done.returncode == 0, done.stderr
                assert done.stdout == f"Flag {name!r} is now {expected.describe()}.\n"
                started = time.monotonic()
                while flags.get(name) != expected:
                    assert time.monotonic() - started < 1.0, f"{args} not seen within 1 s"
                    await asyncio.sleep(0.005)
        finally:
            await flags.aclose()

    asyncio.run(scenario())
    listed = manage(project, "flags", "list", "--json", **redis_env)  # type: ignore[arg-type]
    assert json.loads(listed.stdout) == [
        {"name": "beta", "state": "off", "source": "redis"},
        {"name": "brand-new", "state": "on", "source": "redis"},
        {"name": "search-v2", "state": "10%", "source": "settings"},
    ]


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (
            ("enable", "betta"),
            1,
            "Error: Unknown flag 'betta'. Did you mean 'beta'? Known flags: beta, search-v2. "
            "Declare it in FEATURE_FLAGS, or pass --create to add it to the store.",
        ),
        (
            ("set", "beta", "150"),
            2,
            "Error: Invalid value for 'PERCENTAGE': percentage '150' is outside 0 to 100.",
        ),
        (
            ("set", "beta", "--", "-5"),
            2,
            "Error: Invalid value for 'PERCENTAGE': percentage '-5' is outside 0 to 100.",
        ),
        (
            ("set", "beta", "lots"),
            2,
            "Error: Invalid value for 'PERCENTAGE': a percentage is a number from 0 to 100, "
            "not 'lots'.",
        ),
        (
            ("disable", "new checkout"),
            2,
            "Error: Invalid value for 'NAME': invalid flag name 'new checkout': use 1 to 100 "
            "lower-case letters",
        ),
    ],
    ids=["unknown-flag", "over-100", "negative", "not-a-number", "name-with-space"],
)
def test_bad_input_is_one_line_and_non_zero(
    project: Path, redis_env: dict[str, str], args: tuple[str, ...], status: int, message: str
) -> None:
    result = manage(project, "flags", *args, **redis_env)  # type: ignore[arg-type]
    assert one_line_error(result).startswith(message)
    assert result.returncode == status


def test_an_unreachable_redis_is_one_line(project: Path) -> None:
    result = manage(project, "flags", "list", REDIS_URL="redis://127.0.0.1:1/0")
    assert one_line_error(result).startswith(
        "Error: Cannot reach the flags' Redis at redis://127.0.0.1:1/0 ("
    )
