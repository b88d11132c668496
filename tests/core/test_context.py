import asyncio
import contextvars

from tempest.core.context import clear_request_id, get_request_id, request_id_ctx, set_request_id


def test_no_request_id_by_default() -> None:
    assert contextvars.Context().run(get_request_id) is None


def test_set_get_and_reset() -> None:
    def scenario() -> None:
        token = set_request_id("abc")
        assert get_request_id() == "abc"
        assert request_id_ctx.get() == "abc"
        request_id_ctx.reset(token)
        assert get_request_id() is None

    contextvars.Context().run(scenario)


def test_clear() -> None:
    def scenario() -> None:
        set_request_id("abc")
        clear_request_id()
        assert get_request_id() is None

    contextvars.Context().run(scenario)


def test_each_task_sees_its_own_request_id() -> None:
    async def handle(request_id: str) -> str | None:
        set_request_id(request_id)
        await asyncio.sleep(0)
        return get_request_id()

    async def main() -> list[str | None]:
        return list(await asyncio.gather(handle("one"), handle("two")))

    assert asyncio.run(main()) == ["one", "two"]
    assert get_request_id() is None
