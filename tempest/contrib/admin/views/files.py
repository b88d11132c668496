"""File columns in the admin: multipart forms, checked uploads, downloads and previews.

A model with a :class:`~tempest.db.FileField` column gets a file input in its create and
edit forms (sent as ``multipart/form-data``). Each upload is checked by the column's own
rules (``FileField.uploader()``: allowed types sniffed from the bytes, largest size) and
streamed to the project's default storage; a refused file is a message under its field.
An edit without a new file keeps the current one; a nullable column's "Remove" box
empties it. Files are never deleted with their rows, nor when replaced (the stored file
stays, as in Django): the row's transaction may still roll back, and the audit trail
names the old key. Files uploaded for a form that is then refused are deleted.

``GET /m/{slug}/{identity}/file/{field}`` streams a row's file to signed-in operators
only (``DownloadUtils``: Range, ETag, a 404 for a missing file); ``?inline=1`` shows an
image in the page (the list's and detail page's previews), other types always download.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from tempest.contrib.admin.forms import FormField
from tempest.contrib.admin.views.base import ViewsBase
from tempest.contrib.admin.views.common import ModelInfo, Problem, primary_key, refuse_nul
from tempest.db import FileField, StoredFile
from tempest.exceptions import AppException, NotFoundException, ServiceUnavailableException
from tempest.storage import get_default_storage
from tempest.utils import DownloadUtils

__all__ = ["FileViews", "file_fields", "previewable"]

logger = logging.getLogger("tempest.admin")

_FORM_OVERHEAD = 1_000_000
"""Bytes of a multipart form besides its files (the other fields, the part headers)."""

_FILE_HEADERS = {"content-security-policy": "default-src 'none'; sandbox"}
"""A served file is never a page: nothing in it runs, even when opened directly."""

_PREVIEW_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp"})


def file_fields(info: ModelInfo) -> list[FormField]:
    """The editable file fields of a model's form."""
    return [item for item in info.fields if item.widget == "file" and not item.readonly]


def previewable(value: Any) -> bool:
    """Whether a stored file is an image a page may show (never SVG: it can hold script)."""
    return isinstance(value, StoredFile) and value.content_type in _PREVIEW_TYPES


def _column_type(item: FormField) -> FileField:
    column_type = item.column.type
    assert isinstance(column_type, FileField)
    return column_type


class FileViews(ViewsBase):
    """Reading forms with files, storing their uploads, serving a row's files."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Prepare the views (see :class:`ViewsBase`) and the templates' file filters."""
        super().__init__(*args, **kwargs)
        self.templates.filters["previewable"] = previewable
        self.templates.filters["stored_file"] = lambda value: isinstance(value, StoredFile)

    async def _posted_form(self, request: Request, info: ModelInfo) -> Any:
        """The posted form, its session and its uploads by field name.

        A model without file fields takes ``application/x-www-form-urlencoded`` only
        (:meth:`ViewsBase._posted`); one with file fields takes ``multipart/form-data``
        too, refused (413) when its declared length exceeds what its files may weigh.
        """
        fields = file_fields(info)
        content_type = request.headers.get("content-type", "").split(";")[0].strip()
        if not fields or content_type != "multipart/form-data":
            posted, session = await self._posted(request)
            return posted, session, {}
        limit = sum(_column_type(item).max_size_bytes() for item in fields) + _FORM_OVERHEAD
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise Problem(413, "The form is too large.")
        try:
            parsed = await request.form(
                max_files=len(fields), max_fields=2000, max_part_size=_FORM_OVERHEAD
            )
        except Exception as error:  # malformed multipart, too many parts
            raise Problem(400, f"The form could not be read: {error}") from None
        form: dict[str, str] = {}
        uploads: dict[str, UploadFile] = {}
        names = {item.name for item in fields}
        for key, value in parsed.multi_items():
            if isinstance(value, UploadFile):
                if key in names and (value.filename or value.size):
                    uploads[key] = value
            else:
                form[key] = value
        refuse_nul(form.items())
        session = self.store.load(request)
        if session is None or not session.accepts(form.get("csrf_token")):
            raise Problem(
                403,
                "The form's security token is missing or out of date: reload the page and "
                "send it again.",
            )
        return form, session, uploads

    async def _store_uploads(
        self,
        info: ModelInfo,
        uploads: Mapping[str, UploadFile],
        form: Mapping[str, str],
        instance: Any,
        values: dict[str, Any],
    ) -> tuple[list[StoredFile], dict[str, str]]:
        """Check and store each upload; put the new values (or a removal) in ``values``.

        Returns:
            The files stored (to delete if the row is not saved) and a message by field
            for each file refused or missing.
        """
        stored: list[StoredFile] = []
        errors: dict[str, str] = {}
        for item in file_fields(info):
            upload = uploads.get(item.name)
            current = getattr(instance, item.name, None) if instance is not None else None
            if upload is None:
                if form.get(f"{item.name}__clear") and item.column.nullable:
                    values[item.name] = None
                elif item.required and current is None:
                    errors[item.name] = "Choose a file."
                continue
            try:
                value = await _column_type(item).save(upload)
            except ServiceUnavailableException as error:
                await self._discard(stored)
                raise Problem(503, error.message) from None
            except AppException as error:
                errors[item.name] = error.message
                continue
            finally:
                await upload.close()
            stored.append(value)
            values[item.name] = value
        if errors:
            await self._discard(stored)
            return [], errors
        return stored, {}

    async def _discard(self, stored: list[StoredFile]) -> None:
        """Delete files uploaded for a row that was not saved."""
        for value in stored:
            try:
                await value.delete()
            except Exception:  # the storage is down: the file stays, say so
                logger.warning("admin: could not delete the unsaved upload %s", value.key)

    async def file_download(self, request: Request, db_session: AsyncSession) -> Response:
        """``GET /m/{slug}/{identity}/file/{field}``: the row's file, to operators only."""
        info = self._model(request)
        name = request.path_params["field"]
        item = next((field for field in info.fields if field.name == name), None)
        if item is None or item.widget != "file":
            raise Problem(404, "There is no such page in the admin.")
        await self._visit(request, db_session)
        key = primary_key(info, request.path_params["identity"])
        model = info.admin.model
        value = await db_session.scalar(select(getattr(model, name)).where(model.id == key))
        if not isinstance(value, StoredFile):
            raise Problem(404, "This row has no file here.")
        inline = request.query_params.get("inline") == "1" and previewable(value)
        downloads = DownloadUtils(get_default_storage())
        try:
            await downloads.storage.stat(value.key)  # a missing file: the admin's 404 page
        except NotFoundException:
            raise Problem(404, "The file of this row is missing from the storage.") from None
        except ServiceUnavailableException as error:
            raise Problem(503, error.message) from None
        return downloads.file_response(
            value.key,
            filename=value.name,
            as_attachment=not inline,
            media_type=value.content_type,
            headers=_FILE_HEADERS,
        )
