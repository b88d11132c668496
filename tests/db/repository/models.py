"""Models of the repository tests (tables prefixed ``repo_``)."""

from __future__ import annotations

import enum
import uuid
from datetime import date
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Date,
    Enum,
    ForeignKey,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tempest.db import AuditMixin, BaseModel, SoftDeleteMixin


class Color(enum.Enum):
    RED = "r"
    GREEN = "g"


class RepoCategory(BaseModel):
    __tablename__ = "repo_category"

    title: Mapped[str] = mapped_column(String(40), unique=True)


class RepoItem(BaseModel):
    __tablename__ = "repo_item"

    name: Mapped[str] = mapped_column(String(80), unique=True)
    code: Mapped[str | None] = mapped_column(String(20), default=None)
    qty: Mapped[int] = mapped_column(Integer, default=0)
    rank: Mapped[int | None] = mapped_column(Integer, default=None)
    price: Mapped[Decimal | None] = mapped_column(Numeric(10, 2), default=None)
    due: Mapped[date | None] = mapped_column(Date, default=None)
    color: Mapped[Color | None] = mapped_column(Enum(Color), default=None)
    extra: Mapped[dict[str, object] | None] = mapped_column(JSON, default=None)
    category_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("repo_category.id"), default=None
    )
    category: Mapped[RepoCategory | None] = relationship(lazy="raise")


class RepoEvent(BaseModel):
    """A model with a column named ``date``: start_in/end_in bound it."""

    __tablename__ = "repo_event"

    title: Mapped[str] = mapped_column(String(40))
    date: Mapped[date] = mapped_column(Date)


class RepoNote(BaseModel):
    __tablename__ = "repo_note"
    __table_args__ = (UniqueConstraint("tenant_id", "code"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    code: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(String(80), default="")


class RepoBulk(BaseModel):
    """Eight columns: the four of BaseModel and four of its own."""

    __tablename__ = "repo_bulk"

    name: Mapped[str] = mapped_column(String(40), unique=True)
    code: Mapped[int] = mapped_column(Integer)
    price: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    note: Mapped[str | None] = mapped_column(String(40), default=None)


class RepoDocument(BaseModel, SoftDeleteMixin, AuditMixin):
    __tablename__ = "repo_document"

    title: Mapped[str] = mapped_column(String(40))
