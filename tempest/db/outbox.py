"""The transactional outbox: events saved with the data, published by a relay.

A service that changes a row and then publishes "this happened" to a broker can lose
the event (the process dies between the commit and the publish) or publish one that
never happened (the publish succeeds, the commit fails). The outbox removes the gap: the
event is a row, written in the same transaction as the domain change
(``BaseRepository.save_with_outbox``), and an :class:`OutboxRelay` publishes the
committed rows afterwards.

Delivery guarantees:

- **No relay publishes a row another relay holds.** Each batch is one transaction: the
  rows are claimed with ``SELECT ... FOR UPDATE SKIP LOCKED`` (PostgreSQL), published
  while their locks are held, marked dispatched and committed. A second relay skips the
  locked rows, and when it reaches a row after the first relay committed, the row is no
  longer pending. On SQLite (no row locks) run a single relay.
- **Overall, delivery is at least once.** A relay that crashes (or loses its database
  connection) after the broker accepted a message and before its transaction committed
  leaves the row pending, and the message is published again later. Consumers must be
  idempotent: deduplicate on the event's id (:meth:`OutboxRelay.dispatch` can send it as
  the message id) or on a business key in the payload.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from sqlalchemy import (
    JSON,
    Enum,
    Index,
    Integer,
    String,
    Table,
    Text,
    delete,
    func,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from tempest.db.models import BaseModel, statement_timestamp
from tempest.db.transaction import atomic
from tempest.db.types import UTCDateTime
from tempest.utils.enums import BaseStrEnum
from tempest.utils.outages import OutageLog

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement

    from tempest.db.manager import AsyncDatabaseManager

__all__ = [
    "BaseOutboxModel",
    "OutboxRelay",
    "OutboxStatus",
    "Publish",
    "exponential_backoff",
]

logger = logging.getLogger("tempest.db.outbox")

Publish = Callable[[str, Any], Awaitable[object]]
"""``await publish(topic, payload)``: hand one event to the broker; raise if it refused."""

_Event = TypeVar("_Event", bound="BaseOutboxModel")

_MAX_ERROR_LENGTH = 2000


class OutboxStatus(BaseStrEnum):
    """Where an outbox row is in its life."""

    PENDING = "pending"
    """Waiting to be published (``available_at`` says from when)."""
    DISPATCHED = "dispatched"
    """Published: the broker accepted it."""
    FAILED = "failed"
    """Gave up after ``max_attempts`` failed publications; needs an operator."""


def _status_values(enum: type[OutboxStatus]) -> list[str]:
    return [member.value for member in enum]


def _is(model: type[BaseOutboxModel], status: OutboxStatus) -> ColumnElement[bool]:
    # Inlined, not bound: a partial index on "status = 'pending'" is only usable by a
    # query whose condition is that literal (prepared statements would hide a parameter).
    return model.status == literal_column(f"'{status.value}'")


class BaseOutboxModel(BaseModel):
    """Abstract base of an outbox table: one row per event waiting to be published.

    Subclass it in an app's ``models.py`` and run ``makemigrations``::

        class OutboxEventModel(BaseOutboxModel):
            __tablename__ = "orders_outbox"

    Columns (besides BaseModel's ``id``, ``is_active``, ``created_at``, ``updated_at``):
    ``topic`` (where to publish), ``payload`` (JSON, published as given), ``status``
    (:class:`OutboxStatus`), ``attempts`` (publications tried), ``available_at`` (the
    earliest time of the next try), ``dispatched_at`` and ``last_error``.

    Each concrete table gets two partial indexes: ``ix_<table>_pending`` on
    ``(created_at, id)`` of pending rows, which the relay's claim scans in order, and
    ``ix_<table>_dispatched`` on ``dispatched_at`` of dispatched rows, for pruning.
    """

    __abstract__ = True

    topic: Mapped[str] = mapped_column(String(255))
    payload: Mapped[Any] = mapped_column(JSON)
    status: Mapped[OutboxStatus] = mapped_column(
        Enum(
            OutboxStatus,
            native_enum=False,
            length=16,
            values_callable=_status_values,
            validate_strings=True,
        ),
        default=OutboxStatus.PENDING,
        server_default=OutboxStatus.PENDING.value,
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    available_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=statement_timestamp, server_default=func.now()
    )
    dispatched_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime(), default=None, nullable=True
    )
    last_error: Mapped[str | None] = mapped_column(Text, default=None, nullable=True)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _index_outbox(cls)

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} id={self._identity()!s} topic={self.__dict__.get('topic')!r}>"
        )


def _index_outbox(cls: type[BaseOutboxModel]) -> None:
    table = cls.__dict__.get("__table__")
    if not isinstance(table, Table):
        return
    existing = {index.name for index in table.indexes}
    pending, dispatched = f"ix_{table.name}_pending", f"ix_{table.name}_dispatched"
    if pending not in existing:
        where = text(f"status = '{OutboxStatus.PENDING.value}'")
        Index(
            pending,
            table.c.created_at,
            table.c.id,
            postgresql_where=where,
            sqlite_where=where,
        )
    if dispatched not in existing:
        where = text(f"status = '{OutboxStatus.DISPATCHED.value}'")
        Index(dispatched, table.c.dispatched_at, postgresql_where=where, sqlite_where=where)


def exponential_backoff(
    base: timedelta = timedelta(seconds=5), cap: timedelta = timedelta(minutes=10)
) -> Callable[[int], timedelta]:
    """A retry delay that doubles with each failed attempt: base, 2 base, 4 base... up to cap.

    Args:
        base: The delay after the first failure.
        cap: The longest delay.

    Returns:
        A function of the number of attempts made so far (1 after the first failure).
    """

    def delay(attempts: int) -> timedelta:
        factor: int = 2 ** max(attempts - 1, 0)
        return min(base * factor, cap)

    return delay


DEFAULT_RETRY_BACKOFF = exponential_backoff()
"""The relay's default retry delay: 5 s after the first failure, doubling up to 10 min."""


class OutboxRelay(Generic[_Event]):
    """Publish the pending rows of an outbox table, oldest first, each by one relay.

    ``run_once()`` handles one batch in one transaction: it claims up to ``batch_size``
    pending rows whose ``available_at`` has come (``FOR UPDATE SKIP LOCKED`` on
    PostgreSQL, so that concurrent relays share the work), publishes them one by one and
    marks each dispatched only after ``publish`` returned; the locks are held until the
    commit, so no other relay publishes the same row. When a publication fails (raises,
    or takes longer than ``publish_timeout``), the row's ``attempts`` and ``last_error``
    are recorded, its ``available_at`` moves ``retry_backoff`` later (``failed`` after
    ``max_attempts``), and the rest of the batch is left for the next run: the broker is
    probably down, and later events should not overtake it needlessly.

    Guarantees and their limits:

    - A crash after the broker accepted a message but before the commit republishes it
      on the next run: delivery is *at least once*, so consumers must be idempotent.
    - Order is creation order (``created_at``, then ``id``) for a single relay without
      failures; a retried event is published after later ones, and concurrent relays
      interleave. Do not rely on strict ordering across events.
    - The broker call happens inside the database transaction: keep ``batch_size`` and
      ``publish_timeout`` such that a batch takes seconds, not minutes.
    - On SQLite (no row locks, one writer) run a single relay.

    Example::

        relay = OutboxRelay(database, OutboxEventModel, broker_publish, batch_size=100)
        published = await relay.run_once()
    """

    def __init__(
        self,
        database: AsyncDatabaseManager | async_sessionmaker[AsyncSession] | None,
        model: type[_Event],
        publish: Publish | None,
        *,
        batch_size: int = 100,
        max_attempts: int = 10,
        retry_backoff: timedelta | Callable[[int], timedelta] = DEFAULT_RETRY_BACKOFF,
        publish_timeout: float | None = 30.0,
        keep_dispatched_for: timedelta = timedelta(days=7),
        prune_batch_size: int = 1000,
    ) -> None:
        """Describe the relay; nothing connects until the first run.

        Args:
            database: Where the outbox lives: an :class:`~tempest.db.AsyncDatabaseManager`
                (its ordinary, non-autocommit sessions are used), a session factory, or
                None for the project's database (``tempest.db.get_database()``).
            model: The concrete outbox model (a :class:`BaseOutboxModel` subclass).
            publish: ``await publish(topic, payload)``; must raise when the broker did not
                accept the message (with RabbitMQ, use publisher confirms). None when a
                subclass overrides :meth:`dispatch` instead.
            batch_size: Rows claimed, and published, per transaction.
            max_attempts: Publications tried before a row is marked ``failed``.
            retry_backoff: Delay before the next try: a fixed ``timedelta``, or a
                function of the attempts made so far (default: 5 s doubling up to 10 min).
            publish_timeout: Seconds one publication may take before it counts as failed;
                None waits forever.
            keep_dispatched_for: How long :meth:`prune` keeps dispatched rows.
            prune_batch_size: Rows deleted per statement (and transaction) by :meth:`prune`.

        Raises:
            ValueError: ``batch_size``, ``max_attempts`` or ``prune_batch_size`` < 1.
            TypeError: ``publish`` is None and :meth:`dispatch` is not overridden.
        """
        if publish is None and type(self).dispatch is OutboxRelay.dispatch:
            raise TypeError(
                f"{type(self).__name__} needs a publish function: pass publish= or override "
                "dispatch() in a subclass."
            )
        for name, value in (
            ("batch_size", batch_size),
            ("max_attempts", max_attempts),
            ("prune_batch_size", prune_batch_size),
        ):
            if value < 1:
                raise ValueError(f"OutboxRelay {name} must be at least 1, got {value}.")
        self.database = database
        self.model = model
        self.publish = publish
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self.retry_backoff = retry_backoff
        self.publish_timeout = publish_timeout
        self.keep_dispatched_for = keep_dispatched_for
        self.prune_batch_size = prune_batch_size

    def __repr__(self) -> str:
        return f"<{type(self).__name__} model={self.model.__name__}>"

    def _session(self) -> AsyncSession:
        source = self.database
        if source is None:
            from tempest.db.session import get_database

            source = get_database()
        if isinstance(source, async_sessionmaker):
            return source()
        return source.session_factory()

    @property
    def broker_is_down(self) -> bool:
        """Whether the last publication failed because the broker could not be reached."""
        return self._broker_log is not None and self._broker_log.is_down

    _broker_log: OutageLog | None = None
    _database_log: OutageLog | None = None

    def _broker_outage(self) -> OutageLog:
        if self._broker_log is None:
            self._broker_log = OutageLog(
                f"outbox relay of {self.model.__name__}",
                "the message broker",
                "",
                consequence="events stay pending, the relay backs off until it is back",
                logger=logger,
            )
        return self._broker_log

    def _database_outage(self) -> OutageLog:
        if self._database_log is None:
            self._database_log = OutageLog(
                f"outbox relay of {self.model.__name__}",
                "the database",
                _database_url(self.database),
                consequence="the relay backs off until it is back",
                logger=logger,
            )
        return self._database_log

    def _retry_delay(self, attempts: int) -> timedelta:
        if isinstance(self.retry_backoff, timedelta):
            return self.retry_backoff
        return self.retry_backoff(attempts)

    async def dispatch(self, event: _Event) -> None:
        """Publish one row: ``await self.publish(event.topic, event.payload)``.

        Override it in a subclass to send more of the row, e.g. its ``id`` as the
        broker's message id, which consumers can deduplicate on.
        """
        assert self.publish is not None  # checked by the constructor
        await self.publish(event.topic, event.payload)

    async def run_once(self) -> int:
        """Claim, publish and settle one batch of due pending rows, in one transaction.

        Returns:
            The number of rows published (marked dispatched) by this call.
        """
        model = self.model
        now = datetime.now(UTC)
        claim = (
            select(model)
            .where(_is(model, OutboxStatus.PENDING), model.available_at <= now)
            .order_by(model.created_at, model.id)
            .limit(self.batch_size)
            .with_for_update(skip_locked=True)
        )
        published = 0
        async with self._session() as session, atomic(session):
            events = (await session.scalars(claim)).all()
            for event in events:
                try:
                    async with asyncio.timeout(self.publish_timeout):
                        await self.dispatch(event)
                except Exception as error:
                    self._record_failure(event, error)
                    if _is_broker_outage(error):  # run_forever() backs off until it answers
                        self._broker_outage().failed(error)
                    break
                self._broker_outage().succeeded()
                event.attempts += 1
                event.status = OutboxStatus.DISPATCHED
                event.dispatched_at = datetime.now(UTC)
                event.last_error = None
                published += 1
        if published:
            logger.debug("Published %d %s event(s)", published, model.__name__)
        return published

    def _record_failure(self, event: _Event, error: Exception) -> None:
        event.attempts += 1
        message = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        if isinstance(error, TimeoutError):
            message = f"TimeoutError: publish took longer than {self.publish_timeout} s"
        event.last_error = message[:_MAX_ERROR_LENGTH]
        if event.attempts >= self.max_attempts:
            event.status = OutboxStatus.FAILED
            logger.error(
                "Outbox event %s (%s) failed %d times and is marked failed: %s",
                event.id,
                event.topic,
                event.attempts,
                message,
            )
        else:
            event.available_at = datetime.now(UTC) + self._retry_delay(event.attempts)
            logger.warning(
                "Publishing outbox event %s (%s) failed (attempt %d of %d): %s",
                event.id,
                event.topic,
                event.attempts,
                self.max_attempts,
                message,
            )

    async def prune(self) -> int:
        """Delete dispatched rows older than ``keep_dispatched_for``, in batches.

        Each batch is one short ``DELETE ... WHERE id IN (SELECT ... LIMIT n)``
        transaction, so pruning a large backlog never holds many locks at once. Pending
        and failed rows are kept.

        Returns:
            The number of rows deleted.
        """
        model = self.model
        cutoff = datetime.now(UTC) - self.keep_dispatched_for
        batch = (
            select(model.id)
            .where(_is(model, OutboxStatus.DISPATCHED), model.dispatched_at < cutoff)
            .limit(self.prune_batch_size)
            .with_for_update(skip_locked=True)
            .correlate(None)
        )
        statement = delete(model).where(model.id.in_(batch.scalar_subquery()))
        statement = statement.execution_options(synchronize_session=False)
        deleted = 0
        while True:
            async with self._session() as session, atomic(session):
                result = await session.execute(statement)
            count = int(getattr(result, "rowcount", 0))
            deleted += count
            if count < self.prune_batch_size:
                return deleted

    async def requeue_failed(self) -> int:
        """Make every failed row pending again, due now, with its attempts reset.

        Returns:
            The number of rows requeued.
        """
        model = self.model
        statement = (
            update(model)
            .where(_is(model, OutboxStatus.FAILED))
            .values(status=OutboxStatus.PENDING, attempts=0, available_at=datetime.now(UTC))
            .execution_options(synchronize_session=False)
        )
        async with self._session() as session, atomic(session):
            result = await session.execute(statement)
        return int(getattr(result, "rowcount", 0))

    async def run_forever(
        self,
        interval: float | timedelta = 1.0,
        *,
        prune_every: float | timedelta | None = timedelta(hours=1),
        max_backoff: float | timedelta = 30.0,
    ) -> None:
        """Relay until cancelled: drain full batches at once, then wait ``interval``.

        While the database or the broker cannot be reached, the relay backs off: the
        pause doubles from ``interval`` up to ``max_backoff``, the log says once that it
        is down and once that it is back (URL masked, no traceback per poll), and the
        pending rows wait (the publication that found the broker down counts as that
        row's failed attempt, as any failure does). Once both answer, every pending row
        is published, each once unless a batch was cut mid-way (see the class: at least
        once). Another error is logged with its traceback and the loop goes on after
        ``interval``. Cancel the task to stop; a batch in progress is rolled back, so its
        rows are published again by the next run.

        Args:
            interval: Seconds (or a timedelta) between polls when nothing is due.
            prune_every: How often to run :meth:`prune`; None never prunes.
            max_backoff: The longest pause while the database or the broker is down.
        """
        from tempest.db.outage import is_database_unavailable

        wait = _seconds(interval)
        longest = max(wait, _seconds(max_backoff))
        pause = wait
        prune_wait = None if prune_every is None else _seconds(prune_every)
        loop = asyncio.get_running_loop()
        next_prune = loop.time()
        while True:
            published = 0
            down = False
            try:
                published = await self.run_once()
                self._database_outage().succeeded()
                if prune_wait is not None and loop.time() >= next_prune:
                    next_prune = loop.time() + prune_wait
                    await self.prune()
            except Exception as error:
                if is_database_unavailable(error):
                    self._database_outage().failed(error)
                    down = True
                else:
                    logger.exception("Outbox relay of %s failed; retrying", self.model.__name__)
            if down or self.broker_is_down:
                await asyncio.sleep(pause)
                pause = min(pause * 2, longest)
                continue
            pause = wait
            if published < self.batch_size:
                await asyncio.sleep(wait)


def _is_broker_outage(error: BaseException) -> bool:
    """Whether a publication failed because the broker could not be reached."""
    from tempest.exceptions import ServiceUnavailableException

    # Not TimeoutError (an OSError too): a publication slower than publish_timeout may be
    # the event's own doing, and counts as its failure only.
    return isinstance(error, ServiceUnavailableException | ConnectionError) or (
        type(error).__name__ == "ChannelInvalidStateError"
    )


def _database_url(source: object) -> str:
    """The URL of the relay's database, for the outage lines (masked when printed)."""
    if source is None:
        from tempest.db.session import get_database

        source = get_database()
    url = getattr(source, "db_url_safe", None)
    if url is None and isinstance(source, async_sessionmaker):
        bind = source.kw.get("bind")
        url = getattr(bind, "url", None)
    return str(url) if url is not None else "the outbox's database"


def _seconds(value: float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
