"""``AsyncTaskScheduler.interval`` takes the spec's spellings: ``interval(seconds=30)``,
``interval(timedelta(...))`` and tempest's ``interval(every)``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from taskiq import InMemoryBroker

from tempest.tasks import AsyncTaskScheduler


def _schedule_of(scheduler: AsyncTaskScheduler, **spelling: Any) -> list[dict[str, Any]]:
    args = spelling.pop("args", ())

    async def job() -> None:
        return None

    task = scheduler.interval(*args, **spelling)(job)
    schedule = task.labels["schedule"]
    assert isinstance(schedule, list)
    return schedule


@pytest.fixture
def scheduler() -> AsyncTaskScheduler:
    return AsyncTaskScheduler(InMemoryBroker())


@pytest.mark.parametrize(
    ("spelling", "seconds"),
    [
        ({"seconds": 30}, 30),
        ({"args": (30,)}, 30),
        ({"every": 30}, 30),
        ({"args": (timedelta(minutes=15),)}, 900),
        ({"minutes": 15}, 900),
        ({"hours": 1, "minutes": 30}, 5400),
        ({"days": 1}, 86_400),
        ({"seconds_or_timedelta": timedelta(seconds=45)}, 45),
    ],
)
def test_every_spelling_schedules_the_same_interval(
    scheduler: AsyncTaskScheduler, spelling: dict[str, Any], seconds: int
) -> None:
    assert _schedule_of(scheduler, **spelling) == [{"interval": seconds}]


def test_a_fractional_interval_is_kept_as_a_timedelta(scheduler: AsyncTaskScheduler) -> None:
    assert _schedule_of(scheduler, seconds=1.5) == [{"interval": timedelta(seconds=1.5)}]


def test_labels_and_task_name_still_pass_through(scheduler: AsyncTaskScheduler) -> None:
    async def poll() -> None:
        return None

    task = scheduler.interval(seconds=30, task_name="spec.poll", queue="slow")(poll)
    assert task.task_name == "spec.poll"
    assert task.labels["queue"] == "slow"


def test_no_interval_is_refused(scheduler: AsyncTaskScheduler) -> None:
    with pytest.raises(TypeError, match=r"interval\(\) needs the interval"):
        scheduler.interval()


def test_two_spellings_at_once_are_refused(scheduler: AsyncTaskScheduler) -> None:
    with pytest.raises(TypeError, match="either"):
        scheduler.interval(30, seconds=30)


@pytest.mark.parametrize("spelling", [{"seconds": 0.5}, {"seconds": -5}, {"minutes": 0}])
def test_less_than_a_second_is_refused(
    scheduler: AsyncTaskScheduler, spelling: dict[str, Any]
) -> None:
    with pytest.raises(ValueError, match="at least 1 second"):
        scheduler.interval(**spelling)


def test_a_string_is_refused(scheduler: AsyncTaskScheduler) -> None:
    with pytest.raises(TypeError, match="seconds or a timedelta"):
        scheduler.interval("30")  # type: ignore[arg-type]
