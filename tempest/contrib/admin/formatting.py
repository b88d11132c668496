"""How the admin shows values: list cells, JSON and CSV exports, database refusals."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.exc import IntegrityError

__all__ = ["cell_text", "csv_value", "integrity_message", "json_value"]


def cell_text(value: Any) -> str:
    """A value as a list or detail cell shows it: short, readable, never raw None."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if hasattr(value, "name") and hasattr(value, "value") and not isinstance(value, str):
        return str(value.name)
    text = json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else str(value)
    return text if len(text) <= 80 else text[:79] + "…"


def json_value(value: Any) -> Any:
    """A column value as JSON can hold it (dates in ISO 8601, UUIDs and decimals as text).

    A file column's value is its document (key, name, size, type, SHA-256).
    """
    from tempest.db import StoredFile

    if isinstance(value, StoredFile):
        return value.to_dict()
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if hasattr(value, "name") and hasattr(value, "value") and not isinstance(value, str):
        return value.name
    return value


def csv_value(value: Any) -> Any:
    """A column value for a CSV cell; text a spreadsheet would run as a formula is quoted."""
    value = json_value(value)
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False)
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value  # a spreadsheet must not run it as a formula
    return value


def integrity_message(error: IntegrityError) -> str:
    """A plain-words reason for a row the database refused."""
    text = str(error.orig).lower()
    if "unique" in text or "duplicate" in text:
        return "Another row already has one of these values (a unique column)."
    if "foreign key" in text:
        return "A related row does not exist."
    if "not null" in text or "null value" in text:
        return "A required value is missing."
    return "The database refused this row: check the values."
