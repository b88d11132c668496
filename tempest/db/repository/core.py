"""The state every repository method shares: session, model, messages, limits, scope.

:class:`RepositoryCore` holds the constructor contract and the few hooks that
:class:`~tempest.db.repository.tenant.TenantScopedRepository` overrides to scope every
statement. The methods live in one mixin per concern (reads, writes, pagination,
cursor, bulk), assembled by :class:`~tempest.db.repository.base.BaseRepository`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, Table, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tempest.db.models import BaseModel
from tempest.db.repository.conflicts import conflict_details
from tempest.db.repository.filters import build_conditions
from tempest.db.transaction import AUTOCOMMIT_INFO_KEY, atomic, in_atomic_block
from tempest.exceptions import (
    AppException,
    ConflictException,
    NotFoundException,
    ValidationException,
)

if TYPE_CHECKING:
    from tempest.db.audit import BaseAuditLogModel

__all__ = ["DEFAULT_ESTIMATE_COUNT_ABOVE", "DEFAULT_MAX_PAGE_SIZE", "ModelType", "RepositoryCore"]

ModelType = TypeVar("ModelType", bound=BaseModel)

DEFAULT_MAX_PAGE_SIZE = 100
"""Page-size cap when neither the constructor nor the settings give one."""

DEFAULT_ESTIMATE_COUNT_ABOVE = 100_000
"""Row estimate above which PostgreSQL totals are estimated, by default."""


def _database_setting(name: str, default: int) -> int:
    from tempest.conf.lazy import LazySettings, settings

    if isinstance(settings, LazySettings) and not settings.configured:
        return default
    value = getattr(settings, name, default)
    return value if isinstance(value, int) and not isinstance(value, bool) else default


class RepositoryCore(Generic[ModelType]):
    """Constructor, configuration and scoping hooks shared by the repository mixins.

    Attributes:
        session: The session every statement runs on.
        model: The mapped class the repository reads and writes.
        not_found_exception: Raised (with ``not_found_message``) when a row is missing.
        conflict_exception: Raised when a write breaks a constraint.
        audit_model: The audit-log model of the ``*_audited`` writes; None means the
            default one (``tempest.contrib.audit``). A subclass may set it on the class.
    """

    audit_model: type[BaseAuditLogModel] | None = None

    def __init__(
        self,
        session: AsyncSession,
        *,
        model: type[ModelType] | None = None,
        not_found_exception: type[AppException] = NotFoundException,
        not_found_message: str | None = None,
        conflict_exception: type[AppException] = ConflictException,
        create_conflict_message: str | None = None,
        update_conflict_message: str | None = None,
        max_page_size: int | None = None,
        estimate_count_above: int | None = None,
        audit_model: type[BaseAuditLogModel] | None = None,
    ) -> None:
        """Bind the repository to a session and a model.

        Args:
            session: Usually the request's session (``tempest.db.get_session``).
            model: The model class; a subclass passes it to ``super().__init__``.
            not_found_exception: Exception class for a missing row (404 by default).
            not_found_message: Its message; None keeps the class's default.
            conflict_exception: Exception class for a constraint violation (409).
            create_conflict_message: Message of a conflict raised by an insert.
            update_conflict_message: Message of a conflict raised by an update.
            max_page_size: Largest ``page_size``/``limit`` accepted; None reads the
                setting ``DATABASE_MAX_PAGE_SIZE`` (100 when settings are not configured).
            estimate_count_above: On PostgreSQL, unfiltered totals of tables whose
                planner estimate exceeds this many rows are estimated; 0 turns it off;
                None reads ``DATABASE_ESTIMATE_COUNT_ABOVE`` (else 100,000).
            audit_model: The audit-log model ``add_audited`` / ``update_audited`` /
                ``delete_audited`` write to; None keeps the class's, else the default.

        Raises:
            TypeError: No model was given.
        """
        if model is None:
            raise TypeError(
                f"{type(self).__name__} needs a model: pass model=YourModel to the "
                "constructor (a subclass passes it to super().__init__)."
            )
        self.session = session
        self.model: type[ModelType] = model
        self.not_found_exception = not_found_exception
        self.not_found_message = not_found_message
        self.conflict_exception = conflict_exception
        self.create_conflict_message = create_conflict_message
        self.update_conflict_message = update_conflict_message
        self._max_page_size = max_page_size
        self._estimate_count_above = estimate_count_above
        if audit_model is not None:
            self.audit_model = audit_model

    def __repr__(self) -> str:
        return f"<{type(self).__name__} model={self.model.__name__}>"

    @property
    def max_page_size(self) -> int:
        """The largest page size accepted (see the constructor)."""
        if self._max_page_size is not None:
            return self._max_page_size
        return _database_setting("DATABASE_MAX_PAGE_SIZE", DEFAULT_MAX_PAGE_SIZE)

    @property
    def estimate_count_above(self) -> int:
        """The row estimate above which unfiltered totals are estimated; 0 means never."""
        if self._estimate_count_above is not None:
            return self._estimate_count_above
        return _database_setting("DATABASE_ESTIMATE_COUNT_ABOVE", DEFAULT_ESTIMATE_COUNT_ABOVE)

    @property
    def table(self) -> Table:
        """The model's table."""
        table = self.model.__table__
        assert isinstance(table, Table)
        return table

    # Scoping hooks, overridden by TenantScopedRepository.

    def _scope_conditions(self) -> list[ColumnElement[bool]]:
        """Conditions added to every statement; none here."""
        return []

    def _prepare_new(self, instance: ModelType) -> None:
        """Adjust an instance about to be inserted; nothing here."""

    def _prepare_row(self, row: dict[str, Any]) -> None:
        """Adjust a row (attribute name -> value) about to be bulk-inserted; nothing here."""

    def _check_owned(self, instance: ModelType) -> None:
        """Raise the not-found error if this repository may not write ``instance``."""

    def _check_values(self, values: Mapping[str, Any]) -> None:
        """Reject values a bulk update may not set; nothing here."""

    # Shared helpers.

    def _conditions(self, filters: Mapping[str, Any] | None) -> list[ColumnElement[bool]]:
        """The filter conditions (see :mod:`tempest.db.repository.filters`)."""
        return build_conditions(self.model, filters)

    def _apply_filters(self, query: Select[Any], filters: Mapping[str, Any] | None) -> Select[Any]:
        """``query`` narrowed by the filter dict and the repository's scope.

        For a subclass's own queries: the conditions every read method applies (a
        :class:`~tempest.db.repository.tenant.TenantScopedRepository` adds its tenant's).
        """
        return query.where(*self._scope_conditions(), *self._conditions(filters))

    def _select(
        self, filters: Mapping[str, Any] | None = None, query: Select[Any] | None = None
    ) -> Select[Any]:
        """``query`` (default ``SELECT model``) with the scope and the filters applied.

        Rows already in the session are refreshed from the result (``populate_existing``):
        bulk statements and other sessions may have changed them since they were loaded.
        """
        base = select(self.model) if query is None else query
        base = base.where(*self._scope_conditions(), *self._conditions(filters))
        return base.execution_options(populate_existing=True)

    def _not_found(self) -> AppException:
        return self.not_found_exception(self.not_found_message)

    def _conflict(self, error: IntegrityError, message: str | None) -> AppException:
        details = conflict_details(error, self.table)
        column = details.get("column")
        if column is not None:  # a missing required value is bad input, not a conflict
            return ValidationException(
                f"{column} is required and cannot be null.", details={"field": column}
            )
        return self.conflict_exception(message, details=details)

    def _check_lockable(self) -> None:
        session = self.session
        if session.info.get(AUTOCOMMIT_INFO_KEY) and not in_atomic_block(session):
            raise RuntimeError(
                "for_update=True on an autocommit (request) session holds no lock: the row "
                "is released as soon as it is read. Run the read and the writes that "
                "depend on it inside `async with atomic(session):` (or @transactional)."
            )

    @asynccontextmanager
    async def _writing(self, conflict_message: str | None) -> AsyncIterator[AsyncSession]:
        """Run the block in ``atomic(self.session)``; integrity errors become conflicts.

        The conflict exception carries ``conflict_message`` and safe details (the
        constraint's name), never the statement or the driver's message.
        """
        outermost = not in_atomic_block(self.session)
        try:
            async with atomic(self.session, savepoint=False) as session:
                yield session
        except IntegrityError as error:
            if outermost:  # atomic() may have failed saving earlier changes as it began
                await self.session.rollback()
            raise self._conflict(error, conflict_message) from error
