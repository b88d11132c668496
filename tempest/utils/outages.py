"""Say once that a service went away and once that it is back, with its URL masked.

A dependency outage (Redis, RabbitMQ, the database) makes every request that needs it
fail the same way; a traceback or a warning per request buries the one fact worth
reading. :class:`OutageLog` turns a stream of failures and successes into two lines::

    WARNING rate limit: Redis unreachable at redis://127.0.0.1:6379/0 (ConnectionError:
        Error 111 connecting ...); counting in each process until it is back
    WARNING rate limit: Redis answers again at redis://127.0.0.1:6379/0 (down 4.2 s)

The state is per object and per process: each worker of ``serve --workers N`` logs its
own pair.
"""

from __future__ import annotations

import logging
import time

from tempest.conf.masking import mask_url

__all__ = ["OutageLog"]

_logger = logging.getLogger("tempest.outages")


class OutageLog:
    """The up/down state of one service as one user of it sees it, logged on each change.

    Attributes:
        who: What uses the service, first on each line (``"rate limit"``).
        service: What the service is (``"Redis"``, ``"RabbitMQ"``, ``"the database"``).
        url: The service's URL, printed with its password masked.
        consequence: What happens while it is down, appended to the first line
            (``"sign-in answers 503 until it is back"``); empty says nothing more.
        down_since: ``time.monotonic()`` of the first failure of the current outage, or
            None while the service answers.
        logger: Where the two lines go (``tempest.outages`` unless told).
    """

    def __init__(
        self,
        who: str,
        service: str,
        url: str,
        *,
        consequence: str = "",
        logger: logging.Logger | None = None,
    ) -> None:
        """Start in the "up" state: nothing is logged until a failure.

        Args:
            who: What uses the service.
            service: What the service is, e.g. ``"Redis"``.
            url: The service's URL (masked when printed); empty leaves it out.
            consequence: What the user of the service does while it is down.
            logger: Where to log; ``tempest.outages`` when None.
        """
        self.who = who
        self.service = service
        self.url = url
        self.consequence = consequence
        self.down_since: float | None = None
        self.logger = logger or _logger

    def __repr__(self) -> str:
        state = "down" if self.is_down else "up"
        return f"<OutageLog {self.who}: {self.service}{self._at()} {state}>"

    @property
    def is_down(self) -> bool:
        """Whether the last call failed to reach the service."""
        return self.down_since is not None

    def failed(self, error: BaseException) -> None:
        """Record a failed call; the first of an outage logs a warning (no traceback).

        Args:
            error: Why the service could not be reached.
        """
        if self.down_since is not None:
            return
        self.down_since = time.monotonic()
        reason = " ".join(str(error).split())
        reason = f"{type(error).__name__}: {reason}" if reason else type(error).__name__
        tail = f"; {self.consequence}" if self.consequence else ""
        self.logger.warning(
            "%s: %s unreachable%s (%s)%s", self.who, self.service, self._at(), reason[:300], tail
        )

    def succeeded(self) -> None:
        """Record a call that reached the service; the first after an outage logs it."""
        since = self.down_since
        if since is None:
            return
        self.down_since = None
        self.logger.warning(
            "%s: %s answers again%s (down %.1f s)",
            self.who,
            self.service,
            self._at(),
            time.monotonic() - since,
        )

    def _at(self) -> str:
        return f" at {mask_url(self.url)}" if self.url else ""
