"""Idempotency keys in the project's database, recorded with the request's own writes.

:class:`DatabaseIdempotencyStore` is the third store of
:class:`~tempest.api.middleware.idempotency.IdempotencyMiddleware`, beside memory and
Redis. Its keys live in a table (a subclass of :class:`BaseIdempotencyKeyModel`; the
``tempest.contrib.idempotency`` app ships one), and what Redis cannot give it gives:

- **The key is marked "committed" in the same transaction as the request's writes.** While
  a request holds a key, the outermost :func:`~tempest.db.atomic` commit on the store's
  database also updates the key's row, and that update requires the request's lease. A
  request whose lease expired and was taken by a retry has its transaction rolled back
  (409 ``IDEMPOTENCY_KEY_LEASE_LOST``): two runs never both commit.
- **A request that committed and then died is never run again.** Its key stays, and a
  retry is answered 409 ``IDEMPOTENCY_KEY_ANSWER_LOST``: the writes happened, the answer
  was not recorded (the process stopped, or the answer was a 5xx, which is not stored).

Writes made outside ``atomic()`` on an autocommit session (``BaseRepository``'s writes
never are) commit statement by statement and cannot carry the mark.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, cast

from sqlalchemy import Boolean, LargeBinary, String, delete, false, select, true, update
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Mapped, mapped_column

from tempest.db.models import BaseModel
from tempest.db.types import UTCDateTime
from tempest.exceptions import ConflictException, ImproperlyConfigured
from tempest.exceptions.stores import IdempotencyStoreUnavailableError

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.engine import URL
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

__all__ = [
    "ANSWER_LOST_MARK",
    "BaseIdempotencyKeyModel",
    "DatabaseIdempotencyStore",
    "IdempotencyKeyLostError",
    "idempotency_key_model",
    "mark_idempotency_key",
]

logger = logging.getLogger("tempest.idempotency")

ANSWER_LOST_MARK = b"C"
"""First byte of what :meth:`DatabaseIdempotencyStore.claim` returns for a key whose
request committed its writes and ended without a stored answer (the rest of the value
is the lease's, fingerprint included)."""

_CLAIM_ATTEMPTS = 3


class BaseIdempotencyKeyModel(BaseModel):
    """Abstract base of an idempotency-key table: one row per key in use or answered.

    ``tempest.contrib.idempotency`` ships the concrete model (``IdempotencyKey``, table
    ``idempotency_key``); subclass this one in an app of yours instead to choose the
    table. Columns (besides BaseModel's): ``key`` (SHA-256 hex of the scoped key),
    ``value`` (the running request's lease, or the stored answer), ``committed`` (the
    request's writes are committed), ``lease_until`` and ``expires_at`` (when the row may
    be taken over or pruned).
    """

    __abstract__ = True

    key: Mapped[str] = mapped_column(String(64), unique=True)
    value: Mapped[bytes] = mapped_column(LargeBinary)
    committed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    lease_until: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class IdempotencyKeyLostError(ConflictException):
    """The request's lease on its key expired and a retry took it: its writes roll back."""

    def __init__(self) -> None:
        """Build the 409 answer."""
        super().__init__(
            "This request ran longer than its Idempotency-Key lease "
            "(IDEMPOTENCY_LEASE_SECONDS) and a retry took the key over: its changes were "
            "rolled back. Raise the lease above the slowest request.",
            code="IDEMPOTENCY_KEY_LEASE_LOST",
        )


class SupportsEngine(Protocol):
    """A database manager: ``AsyncDatabaseManager`` (its engine, once connected)."""

    @property
    def engine(self) -> AsyncEngine:
        """The connected engine."""
        ...


@dataclass(frozen=True, slots=True)
class _Claim:
    store: DatabaseIdempotencyStore
    key: str
    lease: bytes


_current_claim: ContextVar[_Claim | None] = ContextVar("tempest_idempotency_claim", default=None)


class DatabaseIdempotencyStore:
    """Idempotency keys in a table of the project's database (see the module docstring).

    Each operation is one statement on an autocommit connection of the database's own
    pool (a claim that finds the key taken reads it with a second one). Times are the
    application's UTC clock. Expired rows are taken over by a new claim of the same key
    and deleted every ``prune_every`` claims.
    """

    def __init__(
        self,
        database: SupportsEngine,
        model: type[BaseIdempotencyKeyModel] | None = None,
        *,
        ttl_seconds: float = 86_400,
        prune_every: int = 1000,
    ) -> None:
        """Keep keys in ``model``'s table of ``database``.

        Args:
            database: The database manager (connected by the app's lifespan).
            model: The concrete key model; default: the only mapped subclass of
                :class:`BaseIdempotencyKeyModel` (``tempest.contrib.idempotency``'s).
            ttl_seconds: How long the key of a request that committed and ended without
                a stored answer is kept (use the middleware's ``ttl_seconds``).
            prune_every: Delete the expired rows after this many claims.

        Raises:
            ImproperlyConfigured: No model given and none (or several) found.
        """
        if prune_every < 1:
            raise ValueError("prune_every must be at least 1")
        self.database = database
        self.model = model if model is not None else idempotency_key_model()
        self._table = cast("Table", self.model.__table__)
        self.ttl = timedelta(seconds=ttl_seconds)
        self._prune_every = prune_every
        self._claims = 0
        self._engine: AsyncEngine | None = None
        self._autocommit: AsyncEngine | None = None

    def _connect(self) -> AsyncConnection:
        engine = self.database.engine
        if engine is not self._engine or self._autocommit is None:
            self._engine = engine
            self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        return self._autocommit.connect()

    @property
    def url(self) -> URL:
        """The URL of the database the keys are in."""
        return self.database.engine.url

    async def claim(self, key: str, lease: bytes, lease_seconds: float) -> bytes | None:
        """Take the lease of ``key`` if it is free or expired (see ``IdempotencyStore``).

        While the caller holds the lease, commits on this database in the same task mark
        the key committed (:func:`mark_idempotency_key`).

        Returns:
            None when the lease was taken; else the key's value, with its first byte
            replaced by :data:`ANSWER_LOST_MARK` when its request committed and ended
            without an answer.
        """
        table = self._table
        now = _now()
        until = now + timedelta(seconds=lease_seconds)
        async with _unavailable(), self._connect() as connection:
            for _ in range(_CLAIM_ATTEMPTS):
                statement = self._insert(connection)(table).values(
                    key=key, value=lease, committed=False, lease_until=until, expires_at=until
                )
                taken = await connection.execute(
                    statement.on_conflict_do_update(
                        index_elements=[table.c.key],
                        set_={
                            "value": lease,
                            "committed": False,
                            "lease_until": until,
                            "expires_at": until,
                            "updated_at": now,
                        },
                        where=table.c.expires_at <= now,
                    ).returning(table.c.key)
                )
                if taken.first() is not None:
                    _current_claim.set(_Claim(self, key, lease))
                    await self._maybe_prune(connection, now)
                    return None
                held = (
                    await connection.execute(
                        select(table.c.value, table.c.committed, table.c.lease_until).where(
                            table.c.key == key
                        )
                    )
                ).first()
                if held is None:
                    continue  # pruned between the two statements: claim again
                value, committed, lease_until = held
                value = bytes(value)
                if committed and value[:1] != b"R" and lease_until <= now:
                    return ANSWER_LOST_MARK + value[1:]
                return value
        raise IdempotencyKeyContentionError(key)

    async def complete(self, key: str, lease: bytes, record: bytes, ttl_seconds: float) -> bool:
        """Replace the lease by ``record`` if it is still held (see ``IdempotencyStore``)."""
        _forget(key)
        table = self._table
        now = _now()
        async with _unavailable(), self._connect() as connection:
            result = await connection.execute(
                update(table)
                .where(table.c.key == key, table.c.value == lease)
                .values(
                    value=record,
                    lease_until=now,
                    expires_at=now + timedelta(seconds=ttl_seconds),
                    updated_at=now,
                )
            )
        return bool(result.rowcount)

    async def release(self, key: str, lease: bytes) -> None:
        """Free ``key`` if it holds ``lease`` and its request committed nothing.

        A key whose request committed is kept (until the TTL) and answered
        ``IDEMPOTENCY_KEY_ANSWER_LOST``: running the request again would repeat its writes.
        """
        _forget(key)
        table = self._table
        now = _now()
        async with _unavailable(), self._connect() as connection:
            deleted = await connection.execute(
                delete(table).where(
                    table.c.key == key, table.c.value == lease, table.c.committed == false()
                )
            )
            if not deleted.rowcount:
                await connection.execute(
                    update(table)
                    .where(table.c.key == key, table.c.value == lease)
                    .values(lease_until=now, updated_at=now)
                )

    async def prune(self) -> int:
        """Delete the expired rows now.

        Returns:
            How many rows were deleted.
        """
        async with _unavailable(), self._connect() as connection:
            return await self._prune(connection, _now())

    async def aclose(self) -> None:
        """Nothing to close: the connections belong to the database's pool."""

    async def _maybe_prune(self, connection: AsyncConnection, now: datetime) -> None:
        self._claims += 1
        if self._claims >= self._prune_every:
            self._claims = 0
            await self._prune(connection, now)

    async def _prune(self, connection: AsyncConnection, now: datetime) -> int:
        table = self._table
        result = await connection.execute(delete(table).where(table.c.expires_at <= now))
        return int(result.rowcount)

    @staticmethod
    def _insert(connection: AsyncConnection) -> Callable[[Table], Any]:
        name = connection.dialect.name
        if name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as postgresql_insert

            return postgresql_insert
        if name == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            return sqlite_insert
        raise ImproperlyConfigured(
            f"DatabaseIdempotencyStore needs PostgreSQL or SQLite, not {name!r}."
        )

    async def _mark(self, session: AsyncSession, claim: _Claim) -> None:
        table = self._table
        now = _now()
        result = await session.execute(
            update(table)
            .where(table.c.key == claim.key, table.c.value == claim.lease)
            .values(committed=true(), expires_at=now + self.ttl, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if not getattr(result, "rowcount", 0):
            raise IdempotencyKeyLostError


class IdempotencyKeyContentionError(RuntimeError):
    """A key changed hands on every claim attempt (expired rows pruned under the claim)."""

    def __init__(self, key: str) -> None:
        """Name the key."""
        super().__init__(f"could not claim idempotency key {key[:12]}... after retries")


async def mark_idempotency_key(session: AsyncSession) -> None:
    """Mark the current request's idempotency key committed, in ``session``'s transaction.

    :func:`~tempest.db.atomic` calls it before its outermost commit. It does nothing
    unless the task holds a :class:`DatabaseIdempotencyStore` lease on the database
    ``session`` writes to.

    Raises:
        IdempotencyKeyLostError: The lease expired and another request took the key;
            the caller rolls back.
    """
    claim = _current_claim.get()
    if claim is None:
        return
    if session.get_bind().engine.url != claim.store.url:
        return
    await claim.store._mark(session, claim)


def _forget(key: str) -> None:
    claim = _current_claim.get()
    if claim is not None and claim.key == key:
        _current_claim.set(None)


def _now() -> datetime:
    return datetime.now(UTC)


def idempotency_key_model() -> type[BaseIdempotencyKeyModel]:
    """The project's idempotency-key model: the one mapped subclass of the base.

    Raises:
        ImproperlyConfigured: There is none (the app is not installed) or several.
    """
    models = [
        mapper.class_
        for mapper in BaseModel.registry.mappers
        if issubclass(mapper.class_, BaseIdempotencyKeyModel)
    ]
    if len(models) != 1:
        found = ", ".join(sorted(model.__qualname__ for model in models)) or "none"
        raise ImproperlyConfigured(
            "Idempotency keys in the database need one model subclassing "
            f"BaseIdempotencyKeyModel (found: {found}): add 'tempest.contrib.idempotency' "
            "to INSTALLED_APPS and run `python manage.py migrate`, or pass model=."
        )
    return models[0]


@asynccontextmanager
async def _unavailable() -> AsyncIterator[None]:
    """Turn a lost or refused connection into ``IdempotencyStoreUnavailableError``."""
    try:
        yield
    except (OperationalError, DBAPIError, OSError) as error:
        if isinstance(error, DBAPIError) and not (
            isinstance(error, OperationalError) or error.connection_invalidated
        ):
            raise  # a real SQL error (a missing table...): not an outage
        raise IdempotencyStoreUnavailableError(
            f"the idempotency keys' database could not be reached: {type(error).__name__}: {error}"
        ) from error
