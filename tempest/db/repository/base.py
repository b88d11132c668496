"""``BaseRepository``: every data-access method a model needs, over one session."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tempest.db.repository.audited import AuditMethods
from tempest.db.repository.bulk import BulkMethods
from tempest.db.repository.core import ModelType
from tempest.db.repository.cursor import CursorMethods
from tempest.db.repository.outbox import OutboxMethods
from tempest.db.repository.pagination import PaginationMethods
from tempest.db.repository.reads import ReadMethods
from tempest.db.repository.writes import WriteMethods

__all__ = ["BaseRepository"]


class BaseRepository(
    ReadMethods[ModelType],
    PaginationMethods[ModelType],
    CursorMethods[ModelType],
    OutboxMethods[ModelType],
    AuditMethods[ModelType],
    WriteMethods[ModelType],
    BulkMethods[ModelType],
):
    """Data access for one model: reads, pagination, writes, bulk statements and outbox.

    Use it directly or subclass it to fix the model, the messages and the mappers::

        repository = BaseRepository(session, model=UserModel)

        class UserRepository(BaseRepository[UserModel]):
            def __init__(self, session: AsyncSession) -> None:
                super().__init__(
                    session,
                    model=UserModel,
                    not_found_exception=UserNotFoundError,
                    create_conflict_message="A user with this e-mail already exists",
                )

            def map_to_response(self, instance: UserModel) -> UserResponse:
                return UserResponse.model_validate(instance)

    Filters follow :mod:`tempest.db.repository.filters`; ``order_by`` accepts column
    names only (:mod:`tempest.db.repository.ordering`). Every write runs inside
    ``atomic(self.session)``, so it commits on its own on a request session and joins
    the caller's transaction inside ``atomic()`` / ``@transactional``. After a write
    fails inside an outer ``atomic()`` block, that whole block must be abandoned.

    ``save_with_outbox`` saves a row together with an event for an
    :class:`~tempest.db.outbox.OutboxRelay`; set ``outbox_model`` on a subclass to say
    which outbox table the events go to.

    ``add_audited`` / ``update_audited`` / ``delete_audited`` write like ``add`` /
    ``update`` / ``delete`` plus one audit row in the same transaction (who, when, what
    changed); ``audit_model=`` names the audit table (default: ``tempest.contrib.audit``).
    """

    def map_to_schema(self, instance: ModelType) -> Any:
        """Turn a row into a schema; override in a subclass.

        Raises:
            NotImplementedError: Always, here.
        """
        raise NotImplementedError(f"{type(self).__name__}.map_to_schema is not implemented.")

    def map_to_response(self, instance: ModelType) -> Any:
        """Turn a row into a response schema; override in a subclass.

        Raises:
            NotImplementedError: Always, here.
        """
        raise NotImplementedError(f"{type(self).__name__}.map_to_response is not implemented.")

    def map_to_model(self, data: Mapping[str, Any]) -> ModelType:
        """Build a (not yet added) model instance from a dict: ``self.model(**data)``."""
        return self.model(**data)
