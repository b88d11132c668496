"""Finding the operations of a revision that lose data, by reading its ``upgrade()``.

Destructive: dropping a table or a column, and narrowing a column's type (a shorter
String, a smaller integer or numeric, text to a bounded string). Raw SQL passed to
``op.execute`` counts when it contains DROP TABLE, DROP COLUMN or TRUNCATE.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

__all__ = ["destructive_operations"]

_RAW_SQL = re.compile(r"\b(DROP\s+TABLE|DROP\s+COLUMN|TRUNCATE)\b", re.IGNORECASE)
_INTEGER_SIZES = {"SmallInteger": 2, "Integer": 4, "BigInteger": 8}


def destructive_operations(path: Path, function: str = "upgrade") -> list[str]:
    """Describe each destructive operation in a revision file's ``upgrade()``.

    Args:
        path: The revision module.
        function: The function to read (``downgrade`` for the way back).

    Returns:
        One short description per operation, e.g. ``drop column order.note``.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    body = next(
        (node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == function),
        None,
    )
    if body is None:
        return []
    found: list[str] = []
    batch_tables: dict[str, str] = {}
    for node in ast.walk(body):
        if isinstance(node, ast.With):
            for item in node.items:
                call = item.context_expr
                if (
                    isinstance(call, ast.Call)
                    and _method(call) == "batch_alter_table"
                    and isinstance(item.optional_vars, ast.Name)
                ):
                    batch_tables[item.optional_vars.id] = _text(_argument(call, 0, "table_name"))
    for node in ast.walk(body):
        if isinstance(node, ast.Call):
            description = _describe(node, batch_tables)
            if description:
                found.append(description)
    return found


def _describe(call: ast.Call, batch_tables: dict[str, str]) -> str | None:
    method = _method(call)
    receiver = call.func.value if isinstance(call.func, ast.Attribute) else None
    in_batch = isinstance(receiver, ast.Name) and receiver.id in batch_tables
    table = batch_tables[receiver.id] if in_batch and isinstance(receiver, ast.Name) else None
    if method == "drop_table":
        return f"drop table {_text(_argument(call, 0, 'table_name'))}"
    if method == "drop_column":
        if table is None:
            table = _text(_argument(call, 0, "table_name"))
            column = _text(_argument(call, 1, "column_name"))
        else:
            column = _text(_argument(call, 0, "column_name"))
        return f"drop column {table}.{column}"
    if method == "alter_column":
        if table is None:
            table = _text(_argument(call, 0, "table_name"))
            column = _text(_argument(call, 1, "column_name"))
        else:
            column = _text(_argument(call, 0, "column_name"))
        new, old = _keyword(call, "type_"), _keyword(call, "existing_type")
        if new is not None and old is not None and _narrows(old, new):
            return f"narrow column {table}.{column} from {ast.unparse(old)} to {ast.unparse(new)}"
    if method == "execute":
        sql = _argument(call, 0, "sqltext")
        if (
            isinstance(sql, ast.Constant)
            and isinstance(sql.value, str)
            and _RAW_SQL.search(sql.value)
        ):
            return f"raw SQL {sql.value.strip()[:60]!r}"
    return None


def _narrows(old: ast.expr, new: ast.expr) -> bool:
    old_name, old_args = _type_of(old)
    new_name, new_args = _type_of(new)
    if old_name in _INTEGER_SIZES and new_name in _INTEGER_SIZES:
        return _INTEGER_SIZES[new_name] < _INTEGER_SIZES[old_name]
    if old_name in {"Text", "UnicodeText"} and new_name in {"String", "Unicode", "VARCHAR"}:
        return bool(new_args)
    if old_name in {"String", "Unicode", "VARCHAR", "CHAR"} and new_name == old_name:
        return bool(old_args and new_args and new_args[0] < old_args[0]) or (
            not old_args and bool(new_args)
        )
    if old_name in {"Numeric", "NUMERIC", "DECIMAL"} and new_name == old_name:
        return any(n < o for o, n in zip(old_args, new_args, strict=False))
    numeric = {*_INTEGER_SIZES, "Numeric", "Float"}
    return old_name in numeric and new_name in {"Boolean", "String"}


def _type_of(node: ast.expr) -> tuple[str, list[int]]:
    """``sa.String(length=40)`` → ``("String", [40])``."""
    call = node if isinstance(node, ast.Call) else None
    target = call.func if call is not None else node
    name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
    numbers: list[int] = []
    if call is not None:
        for value in [*call.args, *(keyword.value for keyword in call.keywords)]:
            if isinstance(value, ast.Constant) and isinstance(value.value, int):
                numbers.append(value.value)
    return str(name), numbers


def _method(call: ast.Call) -> str | None:
    return call.func.attr if isinstance(call.func, ast.Attribute) else None


def _argument(call: ast.Call, position: int, name: str) -> ast.expr | None:
    if len(call.args) > position:
        return call.args[position]
    return _keyword(call, name)


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((keyword.value for keyword in call.keywords if keyword.arg == name), None)


def _text(node: ast.expr | None) -> str:
    if isinstance(node, ast.Constant):
        return str(node.value)
    return ast.unparse(node) if node is not None else "?"
