"""The error envelope as an OpenAPI schema, and ``error_responses()`` to declare statuses."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ErrorResponse", "error_responses"]


class ErrorResponse(BaseModel):
    """The body of every error answer: ``{"detail", "code", "details"}``.

    tempest's exception handlers answer every error (an ``AppException``, a request that
    fails validation, an ``HTTPException``, an unexpected exception) with it, and the
    OpenAPI document declares it for each error status of each operation.

    Attributes:
        detail: A human-readable message.
        code: A stable, machine-readable code that clients branch on.
        details: Structured context (for a 422, the validation errors under ``errors``);
            empty when there is none.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "example": {"detail": "Resource not found", "code": "NOT_FOUND", "details": {}}
        }
    )

    detail: str = Field(description="A human-readable message.")
    code: str = Field(description="A stable, machine-readable code that clients branch on.")
    details: dict[str, Any] = Field(
        description="Structured context, `{}` when there is none; for a 422, the "
        "validation errors under `errors`."
    )


def _description(status_code: int) -> str:
    try:
        return HTTPStatus(status_code).phrase
    except ValueError:
        return "Error"


def error_responses(*status_codes: int) -> dict[int | str, dict[str, Any]]:
    """Declare the error statuses a route can answer, each with the envelope as its body.

    Pass the result as the route's (or router's) ``responses=``; merge it with your own
    entries when a status needs its own description::

        @router.get("/{order_id}", responses=error_responses(401, 404))
        async def get_order(order_id: UUID) -> OrderResponseSchema: ...

        responses = {**error_responses(404), 409: {"model": ErrorResponse,
                                                   "description": "Already paid"}}

    A 422 need not be listed: every operation with parameters or a body declares it.

    Args:
        *status_codes: HTTP statuses (4xx or 5xx) the route answers with the envelope.

    Returns:
        ``{status: {"model": ErrorResponse, "description": <the status's phrase>}}``.

    Raises:
        ValueError: A status is not an error status (below 400 or above 599).
    """
    responses: dict[int | str, dict[str, Any]] = {}
    for status_code in status_codes:
        if not 400 <= status_code <= 599:
            raise ValueError(
                f"error_responses() takes error statuses (400-599), got {status_code}."
            )
        responses[status_code] = {"model": ErrorResponse, "description": _description(status_code)}
    return responses
