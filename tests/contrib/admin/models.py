"""Models of the admin tests: one with a column of every type the forms know, a list
model seeded with rows, the FK target and a user model."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from tempest.contrib.auth.base import BaseUserModel, MFAMixin
from tempest.db import BaseModel
from tempest.db.mixins import AuditMixin


class Kind(enum.Enum):
    tool = "tool"
    toy = "toy"
    spare = "spare"


KIND = Enum(Kind, name="admin_t_kind")


class Operator(BaseUserModel, MFAMixin):
    """Who signs in to the admin under test."""

    __tablename__ = "admin_t_operator"


class Maker(BaseModel):
    """The target of the foreign keys."""

    __tablename__ = "admin_t_maker"
    name: Mapped[str] = mapped_column(String(80), unique=True)


class Gadget(BaseModel, AuditMixin):
    """A column of every type the admin's forms support."""

    __tablename__ = "admin_t_gadget"
    name: Mapped[str] = mapped_column(String(40))
    notes: Mapped[str | None] = mapped_column(Text, default=None, nullable=True)
    quantity: Mapped[int] = mapped_column(Integer)
    ratio: Mapped[float | None] = mapped_column(Float, default=None, nullable=True)
    price: Mapped[Decimal | None] = mapped_column(Numeric(10, 2), default=None, nullable=True)
    flag: Mapped[bool] = mapped_column(Boolean, default=False)
    released_on: Mapped[date | None] = mapped_column(Date, default=None, nullable=True)
    launch_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), default=None, nullable=True
    )
    kind: Mapped[Kind] = mapped_column(KIND, default=Kind.tool)
    specs: Mapped[Any] = mapped_column(JSON, default=None, nullable=True)
    ref: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None, nullable=True)
    maker_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("admin_t_maker.id"), default=None, nullable=True
    )


class Part(BaseModel):
    """The list model: seeded once per module, read by the list and export tests."""

    __tablename__ = "admin_t_part"
    name: Mapped[str] = mapped_column(String(80))
    sku: Mapped[str] = mapped_column(String(20))
    kind: Mapped[Kind] = mapped_column(KIND)
    flag: Mapped[bool] = mapped_column(Boolean, default=False)
    qty: Mapped[int] = mapped_column(Integer, default=0)
    maker_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("admin_t_maker.id"), default=None, nullable=True
    )
