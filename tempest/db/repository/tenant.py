"""``TenantScopedRepository``: a repository that sees and writes one tenant's rows only."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from tempest.db.repository.base import BaseRepository
from tempest.db.repository.columns import require_column
from tempest.db.repository.core import ModelType
from tempest.db.repository.values import coerce_value
from tempest.exceptions import ValidationException

__all__ = ["TenantScopedRepository"]


class TenantScopedRepository(BaseRepository[ModelType]):
    """A :class:`BaseRepository` confined to the rows of one tenant.

    Every read, count, page, update and delete adds ``tenant_column = tenant_id`` to its
    WHERE clause, and every insert (``add``, ``add_all``, bulk rows) sets the column, so
    a row of another tenant is "not found" and cannot be written (``update`` removes such
    an instance from the session, so that no later flush saves it). ``bulk_update`` may
    not change the tenant column; ``bulk_upsert`` never updates another tenant's row
    (a conflicting row of another tenant is left alone and not counted).

    Example::

        repository = TenantScopedRepository(
            session, tenant_id=user.organization_id, tenant_column="organization_id",
            model=ProjectModel,
        )
    """

    def __init__(
        self,
        session: AsyncSession,
        *,
        tenant_id: Any,
        tenant_column: str = "tenant_id",
        **options: Any,
    ) -> None:
        """Bind the repository to a session, a model and one tenant.

        Args:
            session: The session every statement runs on.
            tenant_id: The tenant whose rows this repository sees.
            tenant_column: Attribute name of the model's tenant column.
            **options: The :class:`BaseRepository` keyword arguments (``model``...).

        Raises:
            TypeError: No model was given, or ``tenant_id`` is None or of another type
                than the column's.
            ValidationException: The model has no column ``tenant_column``.
        """
        super().__init__(session, **options)
        if tenant_id is None:
            raise TypeError("TenantScopedRepository needs a tenant_id.")
        column = require_column(self.model, tenant_column, "tenant column")
        try:
            self.tenant_id = coerce_value(column, tenant_id)
        except ValueError as error:
            raise TypeError(f"tenant_id does not fit {tenant_column!r}: {error}") from None
        self.tenant_column = tenant_column

    def _scope_conditions(self) -> list[ColumnElement[bool]]:
        return [getattr(self.model, self.tenant_column) == self.tenant_id]

    def _prepare_new(self, instance: ModelType) -> None:
        setattr(instance, self.tenant_column, self.tenant_id)

    def _prepare_row(self, row: dict[str, Any]) -> None:
        row[self.tenant_column] = self.tenant_id

    def _check_owned(self, instance: ModelType) -> None:
        if getattr(instance, self.tenant_column) != self.tenant_id:
            if instance in self.session:  # its changes must not be saved by a later flush
                self.session.expunge(instance)
            raise self._not_found()

    def _check_values(self, values: Mapping[str, Any]) -> None:
        if self.tenant_column in values:
            raise ValidationException(
                f"bulk_update cannot change {self.tenant_column!r}.",
                details={"field": self.tenant_column},
            )
