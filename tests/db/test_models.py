import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import ForeignKey, String, Table, Uuid, insert, select
from sqlalchemy.orm import Mapped, mapped_column

from tempest.db import NAMING_CONVENTION, AsyncDatabaseManager, BaseModel
from tempest.db.models import default_table_name
from tempest.db.types import UTCDateTime
from tempest.exceptions import ImproperlyConfigured


class WarehouseModel(BaseModel):
    code: Mapped[str] = mapped_column(String(16), unique=True)
    note: Mapped[str | None] = mapped_column(String(64), default=None)


class StockEntryModel(BaseModel):
    warehouse_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("warehouse.id"))
    quantity: Mapped[int] = mapped_column(default=0)


class LegacyThing(BaseModel):
    __tablename__ = "legacy_things"

    label: Mapped[str] = mapped_column(String(16))


class ColdWarehouseModel(WarehouseModel):
    """A subclass sharing the parent's table (single-table inheritance)."""


def table_of(model: type[BaseModel]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


@pytest.mark.parametrize(
    ("class_name", "table_name"),
    [
        ("UserModel", "user"),
        ("OrderItemModel", "order_item"),
        ("Order", "order"),
        ("HTTPLogModel", "http_log"),
        ("APIKey", "api_key"),
        ("Version2Model", "version2"),
        ("Model", "model"),
    ],
)
def test_default_table_name(class_name: str, table_name: str) -> None:
    assert default_table_name(class_name) == table_name


def test_automatic_and_explicit_table_names() -> None:
    assert WarehouseModel.__tablename__ == "warehouse"
    assert table_of(StockEntryModel).name == "stock_entry"
    assert table_of(LegacyThing).name == "legacy_things"
    assert ColdWarehouseModel.__table__ is WarehouseModel.__table__


def test_base_model_is_abstract_and_carries_the_naming_convention() -> None:
    assert not hasattr(BaseModel, "__table__")
    assert dict(BaseModel.metadata.naming_convention).items() >= NAMING_CONVENTION.items()


def test_common_columns_come_first() -> None:
    table = table_of(WarehouseModel)
    assert list(table.c.keys()) == ["id", "is_active", "created_at", "updated_at", "code", "note"]
    assert isinstance(table.c.id.type, Uuid)
    assert table.c.id.primary_key
    for name in ("created_at", "updated_at"):
        column_type = table.c[name].type
        assert isinstance(column_type, UTCDateTime)
        assert column_type.timezone
        assert table.c[name].server_default is not None
    assert table.c.is_active.server_default is not None
    assert not table.c.is_active.nullable


def test_constraint_names_follow_the_convention() -> None:
    warehouse = table_of(WarehouseModel)
    stock = table_of(StockEntryModel)

    assert warehouse.primary_key.name == "pk_warehouse"
    assert {c.name for c in warehouse.constraints} >= {"uq_warehouse_code"}
    assert {fk.name for fk in stock.foreign_key_constraints} == {
        "fk_stock_entry_warehouse_id_warehouse"
    }


def test_duplicate_table_name_names_both_models() -> None:
    with pytest.raises(ImproperlyConfigured) as caught:

        class Warehouse(BaseModel):
            pass

    assert str(caught.value) == (
        f"Models {__name__}.WarehouseModel and "
        f"{__name__}.test_duplicate_table_name_names_both_models.<locals>.Warehouse "
        "both use the table name 'warehouse'. Set __tablename__ on one of them."
    )
    assert BaseModel.metadata.tables["warehouse"] is WarehouseModel.__table__


def test_duplicate_explicit_table_name_is_rejected() -> None:
    with pytest.raises(ImproperlyConfigured, match=r"LegacyThing and .*'legacy_things'"):

        class OtherThingModel(BaseModel):
            __tablename__ = "legacy_things"


def test_explicit_table_name_resolves_a_clash() -> None:
    class WarehouseArchiveModel(BaseModel):
        __tablename__ = "warehouse_archive_v1"

    assert table_of(WarehouseArchiveModel).name == "warehouse_archive_v1"


def test_id_is_assigned_on_construction() -> None:
    fixed = uuid.uuid4()

    assert isinstance(WarehouseModel(code="a").id, uuid.UUID)
    assert WarehouseModel(code="a").id != WarehouseModel(code="a").id
    assert WarehouseModel(id=fixed, code="a").id == fixed


def test_unknown_constructor_keyword_is_rejected() -> None:
    with pytest.raises(TypeError, match="'colour' is an invalid keyword argument"):
        WarehouseModel(colour="red")


def test_equality_and_hash_follow_type_and_id() -> None:
    shared = uuid.uuid4()
    first = WarehouseModel(id=shared, code="a")
    same_row = WarehouseModel(id=shared, code="b")
    other_row = WarehouseModel(code="a")
    other_type = LegacyThing(id=shared, label="x")

    assert first == same_row
    assert hash(first) == hash(same_row)
    assert first != other_row
    assert first != other_type
    assert first != shared
    assert len({first, same_row, other_row}) == 2


def test_repr_shows_class_and_id() -> None:
    item = WarehouseModel(code="a")

    assert repr(item) == f"<WarehouseModel id={item.id}>"


def test_to_dict_include_exclude_and_remove_none() -> None:
    item = WarehouseModel(code="a", is_active=True)

    assert list(item.to_dict()) == ["id", "is_active", "created_at", "updated_at", "code", "note"]
    assert item.to_dict(include={"code", "note"}) == {"code": "a", "note": None}
    assert item.to_dict(include={"code", "note"}, remove_none=True) == {"code": "a"}
    assert set(item.to_dict(exclude={"id", "created_at", "updated_at"})) == {
        "is_active",
        "code",
        "note",
    }


def test_update_from_dict_sets_fields() -> None:
    item = WarehouseModel(code="a")

    item.update_from_dict({"code": "b", "note": "moved"}, allowed_fields={"code", "note"})

    assert (item.code, item.note) == ("b", "moved")


def test_update_from_dict_rejects_a_disallowed_field_and_changes_nothing() -> None:
    item = WarehouseModel(code="a", is_active=True)

    with pytest.raises(ValueError, match="Field 'is_active' cannot be updated"):
        item.update_from_dict({"code": "b", "is_active": False}, allowed_fields=["code"])

    assert (item.code, item.is_active) == ("a", True)


def test_update_from_dict_rejects_an_unknown_field() -> None:
    item = WarehouseModel(code="a")

    with pytest.raises(ValueError, match="WarehouseModel has no field 'colour'"):
        item.update_from_dict({"colour": "red"})


@pytest.mark.anyio
async def test_python_defaults_are_set_on_flush(db: AsyncDatabaseManager) -> None:
    async with db.get_session_context() as session:
        item = WarehouseModel(code="flush")
        session.add(item)
        await session.flush()

        assert item.is_active is True
        assert item.created_at.tzinfo is not None
        assert item.updated_at.tzinfo is not None


@pytest.mark.anyio
async def test_database_defaults_fill_rows_inserted_without_the_orm(
    db: AsyncDatabaseManager,
) -> None:
    row_id = uuid.uuid4()
    async with db.get_session_context() as session:
        await session.execute(
            insert(table_of(WarehouseModel)).values(id=row_id, code="core-insert")
        )

    async with db.get_session_context() as session:
        loaded = await session.get(WarehouseModel, row_id)

    assert loaded is not None
    assert loaded.is_active is True
    assert isinstance(loaded.created_at, datetime)
    assert isinstance(loaded.updated_at, datetime)


@pytest.mark.anyio
async def test_updated_at_changes_on_update(db: AsyncDatabaseManager) -> None:
    long_ago = datetime(2000, 1, 1, tzinfo=UTC)
    async with db.get_session_context() as session:
        item = WarehouseModel(code="upd", created_at=long_ago, updated_at=long_ago)
        session.add(item)

    async with db.get_session_context() as session:
        loaded = await session.get(WarehouseModel, item.id)
        assert loaded is not None
        loaded.note = "changed"
        await session.flush()
        assert loaded.updated_at.replace(tzinfo=UTC) > long_ago
        assert loaded.created_at.replace(tzinfo=UTC) == long_ago


@pytest.mark.anyio
async def test_same_row_from_two_sessions_is_equal(db: AsyncDatabaseManager) -> None:
    async with db.get_session_context() as session:
        session.add(WarehouseModel(code="twice"))

    query = select(WarehouseModel).where(WarehouseModel.code == "twice")
    async with db.get_session_context() as first, db.get_session_context() as second:
        a = (await first.execute(query)).scalar_one()
        b = (await second.execute(query)).scalar_one()

    assert a is not b
    assert a == b
    assert hash(a) == hash(b)


def test_every_table_indexes_the_default_ordering() -> None:
    from sqlalchemy import String
    from sqlalchemy.orm import Mapped, mapped_column

    class IndexedThing(BaseModel):
        name: Mapped[str] = mapped_column(String(10))

    indexes = {
        index.name: [column.name for column in index.columns]
        for index in IndexedThing.__table__.indexes
    }
    assert indexes["ix_indexed_thing_created_at_id"] == ["created_at", "id"]
