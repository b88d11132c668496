"""Schemas: the pydantic bases, pagination (offset and cursor), cursors, Link headers, errors."""

from tempest.schemas.base import BaseSchema
from tempest.schemas.cursor import decode_cursor, encode_cursor
from tempest.schemas.cursor_pagination import CursorPaginationFilterSchema, CursorPaginationSchema
from tempest.schemas.errors import ErrorResponse, error_responses
from tempest.schemas.links import build_pagination_link_header
from tempest.schemas.logs import LogEntrySchema
from tempest.schemas.pagination import BasePaginationFilterSchema, BasePaginationSchema
from tempest.schemas.response import BaseResponseSchema

__all__ = [
    "BasePaginationFilterSchema",
    "BasePaginationSchema",
    "BaseResponseSchema",
    "BaseSchema",
    "CursorPaginationFilterSchema",
    "CursorPaginationSchema",
    "ErrorResponse",
    "LogEntrySchema",
    "build_pagination_link_header",
    "decode_cursor",
    "encode_cursor",
    "error_responses",
]
