"""The project's queue: a RabbitBroker built from settings, and the apps' subscribers.

Web processes publish through :func:`get_queue`, whose broker has no subscribers; the
``consumer`` command builds a broker with every app's subscribers (:func:`get_consumer`).
Subscribers are declared in an app's ``subscribers.py`` on a FastStream ``RabbitRouter``
named ``router``; the router is included in the broker when the broker is built, so
importing the module neither connects nor needs settings.

For tests (the pytest plugin uses them): :func:`in_memory_queue` runs the project's queue,
subscribers included, on FastStream's ``TestRabbitBroker``, and
:func:`tempest.db.session.override_work_session` gives ``MessageSession`` the test's session.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from tempest.conf.masking import mask_url
from tempest.exceptions.framework import ImproperlyConfigured
from tempest.queue._extra import require_faststream
from tempest.queue.manager import AsyncBrokerManager

if TYPE_CHECKING:
    from faststream.rabbit import RabbitBroker, RabbitRouter

    from tempest.apps import AppConfig

__all__ = [
    "SUBSCRIBERS_MODULE",
    "build_broker",
    "get_consumer",
    "get_queue",
    "health_check",
    "in_memory_queue",
    "queues_enabled",
    "reset_queue",
    "start_queue",
    "stop_queue",
    "subscriber_routers",
]

SUBSCRIBERS_MODULE = "subscribers"
"""The app module holding an app's message handlers."""

CONNECT_TIMEOUT = 10.0
"""Seconds to wait for RabbitMQ to accept a connection."""

_queue: AsyncBrokerManager | None = None


def subscriber_routers() -> list[tuple[AppConfig, RabbitRouter]]:
    """The ``router`` of every installed app's ``subscribers.py``, in INSTALLED_APPS order.

    Returns:
        (app, router) pairs; apps without ``subscribers.py`` are left out.

    Raises:
        ImproperlyConfigured: A ``subscribers.py`` fails to import or has no ``router``
            that is a ``faststream.rabbit.RabbitRouter``.
    """
    from tempest.apps import apps

    found = apps.import_app_modules(SUBSCRIBERS_MODULE)
    if not found:
        return []
    require_faststream()
    from faststream.rabbit import RabbitRouter

    routers: list[tuple[AppConfig, RabbitRouter]] = []
    for config, module in found:
        router = getattr(module, "router", None)
        if not isinstance(router, RabbitRouter):
            raise ImproperlyConfigured(
                f"{module.__name__} must define `router = RabbitRouter()` "
                "(from faststream.rabbit) and declare handlers with @router.subscriber(...)."
            )
        routers.append((config, router))
    return routers


def build_broker(*, subscribers: bool = False) -> RabbitBroker:
    """A new ``RabbitBroker`` configured from settings.

    Uses ``RABBITMQ_URL`` and ``RABBITMQ_PREFETCH_COUNT`` (messages a consumer takes before
    acknowledging).

    Args:
        subscribers: Include every app's subscribers router (for the consumer).

    Returns:
        The broker, not connected.

    Raises:
        ImportError: The ``queue`` extra is not installed.
        ImproperlyConfigured: A ``subscribers.py`` is broken.
    """
    require_faststream()
    from faststream.rabbit import Channel, RabbitBroker

    from tempest.conf import settings
    from tempest.queue.tracing import broker_middlewares

    broker = RabbitBroker(
        settings.RABBITMQ_URL,
        timeout=CONNECT_TIMEOUT,
        middlewares=broker_middlewares(),  # FastStream's tracing when TRACING_ENABLED
        # A plain logger propagating to the root's handlers (JSON with LOG_JSON), instead
        # of FastStream's own stdout handler.
        logger=logging.getLogger("faststream.access.rabbit"),
        # A message no queue takes (nobody declared it yet) raises instead of vanishing:
        # an outbox relay must not mark such an event dispatched.
        default_channel=Channel(
            prefetch_count=settings.RABBITMQ_PREFETCH_COUNT, on_return_raises=True
        ),
    )
    if subscribers:
        for _, router in subscriber_routers():
            broker.include_router(router)
    return broker


def get_queue() -> AsyncBrokerManager:
    """The project's :class:`AsyncBrokerManager`, built from settings on first use.

    In a web process its broker only publishes; in the ``consumer`` command it is the
    broker running the subscribers, so handlers can publish through it too.
    """
    global _queue
    if _queue is None:
        _queue = AsyncBrokerManager(build_broker(), url=_url())
    return _queue


def get_consumer() -> AsyncBrokerManager:
    """Make the project's queue a broker running every app's subscribers, and return it.

    Returns:
        The new manager (not connected); :func:`get_queue` returns it from now on.

    Raises:
        ImproperlyConfigured: A ``subscribers.py`` is broken.
    """
    global _queue
    _queue = AsyncBrokerManager(build_broker(subscribers=True), url=_url())
    return _queue


def reset_queue() -> None:
    """Forget the project's queue so that the next use rebuilds it from settings.

    Call :func:`stop_queue` first when it is connected.
    """
    global _queue
    _queue = None


def queues_enabled() -> bool:
    """Whether the project uses message queues, so that the web app connects to RabbitMQ.

    True when an installed app has a ``subscribers.py`` or ``RABBITMQ_URL`` is set
    explicitly (environment, ``.env``, or a settings class that changes the default).
    A project with neither starts without RabbitMQ.
    """
    from tempest.apps import apps
    from tempest.conf import settings

    values = settings.unwrap()  # type: ignore[attr-defined]
    url: str = values.RABBITMQ_URL
    if "RABBITMQ_URL" in values.model_fields_set or url != _default_url():
        return True
    return any(config.has_module(SUBSCRIBERS_MODULE) for config in apps.get_app_configs())


def _url() -> str:
    from tempest.conf import settings

    return str(settings.RABBITMQ_URL)


def _default_url() -> str:
    from tempest.conf.mixins import RabbitMQSettings

    return str(RabbitMQSettings.model_fields["RABBITMQ_URL"].default)


async def start_queue() -> None:
    """Connect the project's queue when :func:`queues_enabled`; for the app's lifespan.

    Raises:
        ConnectionError: RabbitMQ cannot be reached; the message names ``RABBITMQ_URL``.
    """
    if not queues_enabled():
        return
    await connect_or_explain(get_queue())


async def stop_queue() -> None:
    """Disconnect the project's queue if it was connected; for the app's lifespan."""
    if _queue is not None:
        await _queue.disconnect()


@asynccontextmanager
async def in_memory_queue() -> AsyncIterator[AsyncBrokerManager]:
    """Inside the block, the project's queue runs every app's subscribers in memory.

    For tests: the queue becomes a broker with the apps' subscribers (as in
    :func:`get_consumer`) patched by FastStream's ``TestRabbitBroker``, and is connected.
    Nothing reaches RabbitMQ: a message published through it (``Publisher``,
    :func:`get_queue`) is handed to the matching subscriber at once, inside
    ``publish()``, which raises what the handler raises. The app's lifespan, run inside
    the block, finds the queue already connected. The queue is forgotten afterwards.

    Yields:
        The project's queue, connected.

    Raises:
        ImportError: The ``queue`` extra is not installed.
        ImproperlyConfigured: A ``subscribers.py`` is broken.
    """
    global _queue
    require_faststream()
    from faststream.rabbit import TestRabbitBroker

    manager = get_consumer()
    try:
        async with TestRabbitBroker(manager.broker, connect_only=False):
            await manager.connect()
            try:
                yield manager
            finally:
                await manager.disconnect()
    finally:
        _queue = None


async def health_check() -> bool:
    """Readiness check of the project's queue: connected and its connection up."""
    return await get_queue().health_check()


async def connect_or_explain(manager: AsyncBrokerManager) -> None:
    """Connect ``manager``, turning a connection failure into a one-line explanation.

    Raises:
        ConnectionError: RabbitMQ cannot be reached; the message names ``RABBITMQ_URL``.
    """
    # They log the failure explained here (aio_pika adds "Reconnecting after 5 seconds").
    quiet = [
        logging.getLogger(name) for name in ("aiormq.connection", "aio_pika.robust_connection")
    ]
    levels = [logger.level for logger in quiet]
    for logger in quiet:
        logger.setLevel(logging.CRITICAL)
    try:
        await manager.connect()
    except (OSError, TimeoutError, ConnectionError) as error:
        raise _unreachable(error) from error
    except Exception as error:
        if type(error).__module__.startswith(("aiormq", "aio_pika", "pamqp")):
            raise _unreachable(error) from error
        raise
    finally:
        for logger, level in zip(quiet, levels, strict=True):
            logger.setLevel(level)


def _unreachable(error: BaseException) -> ConnectionError:
    from tempest.conf import settings

    reason = " ".join(str(error).split()) or type(error).__name__
    return ConnectionError(
        f"Cannot connect to RabbitMQ at {mask_url(settings.RABBITMQ_URL)} ({reason}); "
        "check RABBITMQ_URL and that the server is running."
    )
