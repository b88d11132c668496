"""What Alembic's ``env.py`` does in a tempest project, configured by the caller.

Commands put an :class:`EnvironmentOptions` in ``Config.attributes["tempest"]`` (and, when
online, the open connection in ``Config.attributes["connection"]``) before calling an
Alembic command; Alembic then runs ``alembic_env/env.py``, which calls
:func:`run_environment`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import MetaData

__all__ = ["EnvironmentOptions", "run_environment"]

IncludeObject = Callable[[Any, str | None, str, bool, Any], bool]


@dataclass
class EnvironmentOptions:
    """How one Alembic run is configured.

    Attributes:
        url: The database URL (offline SQL uses its dialect).
        metadata: The models' metadata (autogenerate compares the database with it).
        tables: When set, autogenerate looks only at these tables (one app's).
        dropped_tables: Tables in the database that no model declares any more but whose
            creation this app's revisions contain: autogenerate may drop them.
        process_revision_directives: Alembic's hook for the revision being written.
        on_version_apply: Called by Alembic after each revision is applied or unapplied.
        compare_at_heads: For autogenerate: the revisions the database counts as applied.
            Alembic compares only when the whole database is at the heads, but a run that
            compares some apps' tables needs only those apps up to date (the caller
            checks that); other apps may have pending revisions.
    """

    url: str
    metadata: MetaData
    tables: frozenset[str] | None = None
    dropped_tables: frozenset[str] = field(default_factory=frozenset)
    process_revision_directives: Callable[..., None] | None = None
    on_version_apply: Callable[..., None] | None = None
    compare_at_heads: tuple[str, ...] | None = None

    def include_object(
        self, item: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
    ) -> bool:
        """Alembic's ``include_object``: only this app's tables and what belongs to them."""
        if self.tables is None:
            return True
        if type_ == "table":
            if name in self.tables:
                return True
            return compare_to is None and reflected and name in self.dropped_tables
        table = getattr(item, "table", None)
        table_name = getattr(table, "name", None)
        return table_name in self.tables or table_name in self.dropped_tables


def render_item(type_: str, item: Any, autogen_context: Any) -> str | bool:
    """Write portable server defaults as SQLAlchemy constructs, not as one dialect's SQL.

    ``BaseModel``'s ``server_default=func.now()`` and ``true()`` would otherwise be
    written as ``sa.text('(CURRENT_TIMESTAMP)')`` or ``sa.text('1')`` when the revision is
    made on SQLite, and fail on PostgreSQL. :class:`~tempest.db.types.UTCDateTime`
    columns are written as ``sa.DateTime(timezone=True)``.
    """
    from sqlalchemy.schema import DefaultClause
    from sqlalchemy.sql.elements import False_, True_
    from sqlalchemy.sql.functions import FunctionElement

    from tempest.db.files import FileField
    from tempest.db.types import UTCDateTime

    if type_ == "type" and isinstance(item, UTCDateTime):
        # Revisions stay free of tempest imports: the database sees a plain timestamptz.
        return "sa.DateTime(timezone=True)"
    if type_ == "type" and isinstance(item, FileField):
        return "sa.JSON()"  # a file column is a JSON document (key, name, size, type, hash)
    if type_ != "server_default" or not isinstance(item, DefaultClause):
        return False
    argument = item.arg
    if isinstance(argument, True_):
        return "sa.true()"
    if isinstance(argument, False_):
        return "sa.false()"
    if isinstance(argument, FunctionElement) and not list(argument.clauses):
        name = getattr(argument, "name", "")
        if name.isidentifier():
            return f"sa.func.{name}()"
    return False


def run_environment() -> None:
    """Configure Alembic's context from the caller's options and run the migrations."""
    from alembic import context

    config = context.config
    options: EnvironmentOptions = config.attributes["tempest"]
    common: dict[str, Any] = {
        "target_metadata": options.metadata,
        "include_object": options.include_object,
        "compare_type": True,
        "transaction_per_migration": True,
        "process_revision_directives": options.process_revision_directives,
        "render_item": render_item,
    }
    if options.on_version_apply is not None:
        common["on_version_apply"] = options.on_version_apply
    if context.is_offline_mode():
        url = options.url
        context.configure(
            url=url,
            literal_binds=True,
            dialect_opts={"paramstyle": "named"},
            render_as_batch=url.startswith("sqlite"),
            **common,
        )
    else:
        connection = config.attributes["connection"]
        context.configure(
            connection=connection,
            render_as_batch=connection.dialect.name == "sqlite",
            **common,
        )
    if options.compare_at_heads is not None:
        heads = options.compare_at_heads
        context.get_context().get_current_heads = lambda: heads  # type: ignore[method-assign]
    with context.begin_transaction():
        context.run_migrations()
