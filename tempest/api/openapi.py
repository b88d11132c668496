"""The OpenAPI document of a tempest app declares the error envelope its handlers answer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tempest.schemas.errors import ErrorResponse

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["ERROR_SCHEMA_NAME", "document_error_envelope"]

ERROR_SCHEMA_NAME = "ErrorResponse"
"""The component that every error answer of the document refers to."""

_REF_PREFIX = "#/components/schemas/"
_ERROR_REF = _REF_PREFIX + ERROR_SCHEMA_NAME
# FastAPI's default 422 body, which tempest's validation handler never answers.
_FASTAPI_422 = _REF_PREFIX + "HTTPValidationError"
_FASTAPI_COMPONENTS = ("HTTPValidationError", "ValidationError")
# What any operation with a request body can answer before its endpoint runs: a body that
# does not parse (FastAPI's 400) and one over the body size limit (413).
_BODY_ERRORS = {
    "400": "The body could not be parsed",
    "413": "The body is larger than the limit",
}


def document_error_envelope(app: FastAPI) -> None:
    """Make ``app.openapi()`` declare the ``{detail, code, details}`` envelope.

    FastAPI declares its own ``HTTPValidationError`` shape for the 422 of every operation
    with parameters or a body; tempest's handlers answer the envelope instead. The
    document is rewritten once, when FastAPI (re)builds it: each 422 refers to the
    ``ErrorResponse`` component (the one ``error_responses()`` declares for other
    statuses), FastAPI's two unused components are dropped, and every operation with a
    request body also declares 400 (unparsable body) and 413 (body over the limit),
    unless it declares them itself. Requests pay nothing.

    Args:
        app: The application whose ``openapi()`` is wrapped.
    """
    build = app.openapi
    rewritten: list[int] = []  # id() of the last document rewritten; FastAPI caches it

    def openapi() -> dict[str, Any]:
        document = build()
        if not rewritten or rewritten[0] != id(document):
            _declare_envelope(document)
            rewritten[:] = [id(document)]
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def _declare_envelope(document: dict[str, Any]) -> None:
    replaced = False
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            for response in responses.values():
                for media in response.get("content", {}).values():
                    if media.get("schema") == {"$ref": _FASTAPI_422}:
                        media["schema"] = {"$ref": _ERROR_REF}
                        replaced = True
            if "requestBody" in operation:
                for status, description in _BODY_ERRORS.items():
                    if status not in responses:
                        responses[status] = _envelope_response(description)
                        replaced = True
    schemas = document.get("components", {}).get("schemas", {})
    if _FASTAPI_422 not in _refs_in(document, skip=_FASTAPI_COMPONENTS):
        for name in _FASTAPI_COMPONENTS:
            schemas.pop(name, None)
    if replaced and ERROR_SCHEMA_NAME not in schemas:
        document.setdefault("components", {}).setdefault("schemas", {})[ERROR_SCHEMA_NAME] = (
            ErrorResponse.model_json_schema(ref_template=_REF_PREFIX + "{model}")
        )


def _envelope_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": _ERROR_REF}}},
    }


def _refs_in(document: dict[str, Any], *, skip: tuple[str, ...]) -> set[str]:
    """Every ``$ref`` of the document, except those inside the components named in skip."""
    found: set[str] = set()
    schemas = document.get("components", {}).get("schemas", {})
    skipped = {id(schemas[name]) for name in skip if name in schemas}

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if id(value) in skipped:
                return
            ref = value.get("$ref")
            if isinstance(ref, str):
                found.add(ref)
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(document)
    return found
