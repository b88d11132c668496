"""The ``queue`` extra: FastStream with its RabbitMQ transport, imported on demand."""

from __future__ import annotations

INSTALL_HINT = 'pip install "tempest-framework[queue]"'


def require_faststream() -> None:
    """Import FastStream's RabbitMQ support, or explain which extra installs it.

    Raises:
        ImportError: FastStream or aio-pika is not installed.
    """
    try:
        import faststream.rabbit  # noqa: F401
    except ImportError as error:
        raise ImportError(
            f"tempest.queue needs FastStream with RabbitMQ support: {INSTALL_HINT}"
        ) from error
