"""Errors of the migration system."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["DestructiveMigrationError", "MigrationError"]


class MigrationError(Exception):
    """Migrations cannot run as asked; the message says what to fix."""


class DestructiveMigrationError(MigrationError):
    """Pending revisions would drop data, and nobody said that is intended.

    Args:
        operations: One line per destructive operation, naming its revision.
        consent: How the caller says the loss is intended.

    Attributes:
        operations: The destructive operations found.
    """

    def __init__(
        self, operations: Sequence[str], consent: str = "run again with --allow-destructive"
    ) -> None:
        self.operations = list(operations)
        super().__init__(
            "Refusing to run destructive migrations: "
            + "; ".join(self.operations)
            + f". Back the data up, then {consent}."
        )
