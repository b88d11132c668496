"""A small FastAPI app over UploadUtils / DownloadUtils, served in process and by uvicorn.

``make_app(root)`` is used in process (httpx.ASGITransport); ``app_from_env`` is the
``uvicorn --factory`` entry for the served tests (root and limit from the environment).
"""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, UploadFile
from starlette.responses import Response

from tempest.api import register_exception_handlers
from tempest.utils import DownloadUtils, UploadUtils

IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp"}


def make_app(root: Path, max_size: int = 1024 * 1024) -> FastAPI:
    """Routes: /images (checked images, multipart, with SHA-256), /files (any safe file,
    multipart), /checked (the same with SHA-256), /raw/{name} (the raw body, streamed),
    /files/{key} (download)."""
    app = FastAPI()
    register_exception_handlers(app)
    images = UploadUtils(
        root / "files",
        max_size_bytes=max_size,
        allowed_extensions={"png", "jpg", "jpeg", "gif", "webp", "bmp"},
        allowed_mimetypes=IMAGE_TYPES,
        verify_magic_bytes=True,
        checksum=True,
    )
    anything = UploadUtils(root / "files", max_size_bytes=max_size)
    summed = UploadUtils(root / "files", max_size_bytes=max_size, checksum=True)
    downloads = DownloadUtils(root / "files")

    @app.post("/images")
    async def upload_image(file: UploadFile) -> dict[str, Any]:
        return asdict(await images.save(file, subdir="images"))

    @app.post("/files")
    async def upload_file(file: UploadFile) -> dict[str, Any]:
        return asdict(await anything.save(file))

    @app.post("/checked")
    async def upload_checked(file: UploadFile) -> dict[str, Any]:
        return asdict(await summed.save(file))

    @app.put("/raw/{name}")
    async def upload_raw(name: str, request: Request) -> dict[str, Any]:
        return asdict(await anything.save(request, original_filename=name))

    @app.api_route("/files/{key:path}", methods=["GET", "HEAD"])
    async def download(key: str, inline: bool = False) -> Response:
        return downloads.file_response(key, as_attachment=not inline)

    return app


def app_from_env() -> FastAPI:
    """The served app: ``FILES_ROOT`` and ``FILES_MAX_SIZE`` from the environment."""
    return make_app(Path(os.environ["FILES_ROOT"]), int(os.environ["FILES_MAX_SIZE"]))
