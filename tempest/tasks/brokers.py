"""Build a TaskIQ broker from a URL: ``memory://``, ``amqp://`` or ``redis://``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tempest.conf.masking import mask_url
from tempest.exceptions.framework import ImproperlyConfigured
from tempest.tasks.imports import require

if TYPE_CHECKING:
    from taskiq import AsyncBroker

ACCEPTED_SCHEMES: tuple[str, ...] = ("memory", "amqp", "amqps", "redis", "rediss")
"""URL schemes :func:`make_broker` understands."""


def broker_scheme(url: str) -> str:
    """The scheme of a broker URL, lower-cased (``""`` when the URL has none)."""
    scheme, separator, _ = url.partition("://")
    return scheme.lower() if separator else ""


def make_broker(
    url: str,
    *,
    result_backend_url: str | None = None,
    queue_name: str | None = None,
) -> AsyncBroker:
    """Build the TaskIQ broker a URL names.

    - ``memory://``: :class:`taskiq.InMemoryBroker`; a kicked task runs in this process,
      in the background of the running event loop. For development and tests.
    - ``amqp://`` / ``amqps://``: RabbitMQ through ``taskiq_aio_pika.AioPikaBroker``.
      Messages are persistent and each worker acknowledges a message only after its task
      ran, so a worker killed mid-task leaves it to be delivered again.
    - ``redis://`` / ``rediss://``: ``taskiq_redis.RedisStreamBroker``, a Redis stream read
      through a consumer group. Unlike ``ListQueueBroker`` (BRPOP: a message is gone once
      popped) and ``PubSubBroker`` (no storage at all), a stream keeps a message pending
      until the worker acknowledges it, and another worker reclaims it when it stays
      unacknowledged for ``idle_timeout`` (10 minutes): the same at-least-once delivery as
      RabbitMQ.

    Every broker gets TaskIQ's ``SimpleRetryMiddleware``, which re-sends a failed task
    that carries the ``retry_on_error`` label (``@task(retry=N)`` sets it).

    Args:
        url: The broker URL, usually ``settings.TASKIQ_BROKER_URL``.
        result_backend_url: A ``redis://`` URL where task results are kept
            (``settings.TASKIQ_RESULT_BACKEND_URL``); None keeps no results (the
            in-memory broker always keeps them in memory).
        queue_name: Name of the queue (RabbitMQ: also the exchange and, with a
            ``.dead_letter`` suffix, the dead-letter queue; Redis: the stream key). None
            keeps TaskIQ's defaults (``taskiq``), so a plain ``taskiq worker`` can share it.

    Returns:
        A broker, not started yet.

    Raises:
        ImproperlyConfigured: The scheme is not one of :data:`ACCEPTED_SCHEMES`, or the
            result backend URL is not a Redis URL.
        ImportError: The broker's package is not installed (the message names the extra).
    """
    scheme = broker_scheme(url)
    if scheme not in ACCEPTED_SCHEMES:
        accepted = ", ".join(f"{name}://" for name in ACCEPTED_SCHEMES)
        raise ImproperlyConfigured(
            f"TASKIQ_BROKER_URL {mask_url(url)!r} has an unsupported scheme; use one of {accepted}."
        )
    broker: AsyncBroker
    if scheme == "memory":
        taskiq = require("taskiq")
        broker = taskiq.InMemoryBroker()
    elif scheme in ("amqp", "amqps"):
        broker = _aio_pika_broker(url, queue_name)
    else:
        redis_module = require("taskiq_redis")
        options: dict[str, Any] = {}
        if queue_name is not None:
            options["queue_name"] = queue_name
            options["consumer_group_name"] = queue_name
        broker = redis_module.RedisStreamBroker(url, **options)
    if result_backend_url is not None and scheme != "memory":
        broker = broker.with_result_backend(_result_backend(result_backend_url))
    taskiq = require("taskiq")
    broker.add_middlewares(
        taskiq.SimpleRetryMiddleware(default_retry_count=1), _task_actor_middleware(taskiq)
    )
    return broker


def _task_actor_middleware(taskiq: Any) -> Any:
    """A middleware naming the running task as the actor of the audit trail."""
    from tempest.utils.context import set_actor

    class TaskActorMiddleware(taskiq.TaskiqMiddleware):  # type: ignore[misc]
        def pre_execute(self, message: Any) -> Any:
            set_actor("task", message.task_name)  # each message runs in its own context
            return message

    return TaskActorMiddleware()


def _aio_pika_broker(url: str, queue_name: str | None) -> AsyncBroker:
    aio_pika_module = require("taskiq_aio_pika")
    if queue_name is None:
        broker: AsyncBroker = aio_pika_module.AioPikaBroker(url)
        return broker
    broker = aio_pika_module.AioPikaBroker(
        url,
        exchange=aio_pika_module.Exchange(name=queue_name),
        task_queues=[aio_pika_module.Queue(name=queue_name)],
        dead_letter_queue=aio_pika_module.Queue(name=f"{queue_name}.dead_letter"),
    )
    return broker


def _result_backend(url: str) -> Any:
    if broker_scheme(url) not in ("redis", "rediss"):
        raise ImproperlyConfigured(
            f"TASKIQ_RESULT_BACKEND_URL {mask_url(url)!r} is not a Redis URL; "
            "use redis:// or rediss://, or leave it unset to keep no results."
        )
    redis_module = require("taskiq_redis")
    return redis_module.RedisAsyncResultBackend(url)
