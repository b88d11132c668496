"""``save_with_outbox``: save a row and the event announcing it in one transaction."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import inspect
from sqlalchemy.orm.exc import StaleDataError

from tempest.db.repository.core import ModelType
from tempest.db.repository.writes import WriteMethods
from tempest.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from tempest.db.outbox import BaseOutboxModel

__all__ = ["OutboxMethods"]


class OutboxMethods(WriteMethods[ModelType]):
    """The outbox method of :class:`~tempest.db.repository.base.BaseRepository`.

    Attributes:
        outbox_model: The outbox model events are written to when ``save_with_outbox``
            gets none; set it on a repository subclass.
    """

    outbox_model: ClassVar[type[BaseOutboxModel] | None] = None

    async def save_with_outbox(
        self,
        instance: ModelType,
        topic: str,
        payload: Any,
        *,
        outbox_model: type[BaseOutboxModel] | None = None,
    ) -> ModelType:
        """Insert (or, when it is persistent, update) ``instance`` and record an event.

        The row and an outbox row (``topic``, ``payload``, pending) are written in one
        transaction (``atomic(self.session)``, joining the caller's block if any): both
        are saved or neither is. An :class:`~tempest.db.outbox.OutboxRelay` publishes the
        event once the transaction has committed.

        Args:
            instance: A new instance to insert, or a loaded one whose changes to save.
            topic: Where the relay publishes the event (a routing key, a queue...).
            payload: The event's body; anything JSON can store.
            outbox_model: The outbox model; defaults to the repository's ``outbox_model``.

        Returns:
            ``instance``, with database defaults loaded.

        Raises:
            ImproperlyConfigured: No outbox model, neither given nor set on the class.
            ConflictException: A constraint is broken; neither row is saved.
            NotFoundException: ``instance`` is persistent but its row no longer exists.
        """
        model = outbox_model if outbox_model is not None else self.outbox_model
        if model is None:
            raise ImproperlyConfigured(
                f"{type(self).__name__}.save_with_outbox needs an outbox model: set "
                "`outbox_model = YourOutboxModel` on the repository class or pass "
                "outbox_model=YourOutboxModel."
            )
        event = model(topic=topic, payload=payload)
        persistent = inspect(instance).persistent
        if persistent:
            self._check_owned(instance)
            changes = self._take_changes([instance])
            message = self.update_conflict_message
        else:
            self._prepare_new(instance)
            changes = []
            message = self.create_conflict_message
        try:
            async with self._writing(message) as session:
                for changed, values in changes:
                    for key, value in values.items():
                        setattr(changed, key, value)
                session.add_all([instance, event])
                await session.flush()
                await self._load_unloaded([instance])
        except StaleDataError:
            raise self._not_found() from None
        return instance
