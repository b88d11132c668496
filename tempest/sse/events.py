"""One Server-Sent Event and its wire encoding, and the ids of channel events.

The frame encoding is FastAPI's (:func:`fastapi.sse.format_sse_event`); the class is
FastAPI's :class:`fastapi.sse.ServerSentEvent` with the spec's data rule: a string (or
UTF-8 bytes) goes out as it is, anything else as JSON. So one event object works both with
:func:`tempest.sse.sse_response` and yielded from a FastAPI route declared with
``response_class=EventSourceResponse``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import sse as fastapi_sse
from fastapi.encoders import jsonable_encoder
from pydantic import model_validator

__all__ = [
    "EventId",
    "ServerSentEvent",
    "check_channel",
    "comment_frame",
    "event_data",
    "format_event_id",
    "parse_event_id",
]

EventId = tuple[int, int]
"""A channel event's id as numbers: (milliseconds, sequence), ordered like the events."""

_EVENT_ID = re.compile(r"([0-9]{1,20})-([0-9]{1,20})")
_CHANNEL = re.compile(r"[A-Za-z0-9_.:/@-]{1,200}")


class ServerSentEvent(fastapi_sse.ServerSentEvent):
    """One event of a ``text/event-stream``.

    ``ServerSentEvent({"n": 1}, event="counter", id="1", retry=3000)``: ``data`` may be a
    string or bytes (sent as they are) or any JSON-serializable value, pydantic models
    included (sent as JSON). ``event`` names the browser-side listener, ``id`` is what the
    browser sends back as ``Last-Event-ID`` when it reconnects, ``retry`` tells it how
    long to wait before reconnecting (milliseconds), ``comment`` adds ``:`` lines that
    browsers ignore.
    """

    def __init__(self, data: Any = None, /, **fields: Any) -> None:
        """Build an event; ``data`` may be given by position or by name.

        Raises:
            pydantic.ValidationError: ``event`` or ``id`` spans several lines, ``id``
                contains NUL, ``retry`` is negative, or both ``data`` and ``raw_data``
                are given.
        """
        if data is not None:
            fields["data"] = data
        super().__init__(**fields)

    @model_validator(mode="before")
    @classmethod
    def _text_is_raw(cls, values: Any) -> Any:
        # The spec's rule: text is the payload itself, not a JSON string literal.
        if isinstance(values, dict) and isinstance(values.get("data"), str | bytes):
            data = values.pop("data")
            if values.get("raw_data") is not None:
                raise ValueError("give either data or raw_data, not both")
            values["raw_data"] = data.decode("utf-8") if isinstance(data, bytes) else data
        return values

    def encode(self) -> bytes:
        """The event in the SSE wire format, ending with the blank line.

        Raises:
            TypeError: ``data`` is not JSON-serializable.
        """
        return fastapi_sse.format_sse_event(
            data_str=event_data(self),
            event=self.event,
            id=self.id,
            retry=self.retry,
            comment=self.comment,
        )


def event_data(event: fastapi_sse.ServerSentEvent) -> str | None:
    """The text of an event's ``data:`` lines: ``raw_data`` as it is, else ``data`` as JSON.

    Raises:
        TypeError: ``data`` is not JSON-serializable.
    """
    if event.raw_data is not None:
        return event.raw_data
    if event.data is None:
        return None
    data = event.data
    if hasattr(data, "model_dump_json"):
        return str(data.model_dump_json())
    try:
        return json.dumps(jsonable_encoder(data), separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"ServerSentEvent data of type {type(data).__name__} is not JSON-serializable; "
            "send a str, bytes, a pydantic model or JSON-compatible values"
        ) from error


def comment_frame(text: str) -> bytes:
    """A comment frame (``: text``), which browsers ignore; for heartbeats and notices."""
    return fastapi_sse.format_sse_event(comment=text)


def parse_event_id(value: str | None) -> EventId | None:
    """A channel event id (``"<milliseconds>-<sequence>"``) as numbers, or None if it is not one."""
    if not value:
        return None
    match = _EVENT_ID.fullmatch(value.strip())
    if match is None:
        return None
    return int(match[1]), int(match[2])


def format_event_id(event_id: EventId) -> str:
    """The text form of a channel event id (the form Redis streams use)."""
    return f"{event_id[0]}-{event_id[1]}"


def check_channel(channel: str) -> str:
    """Validate a channel name: 1-200 letters, digits and ``_ . : / @ -``.

    Raises:
        ValueError: Anything else (spaces, wildcards, control characters, empty).
    """
    if not isinstance(channel, str) or _CHANNEL.fullmatch(channel) is None:
        raise ValueError(
            f"invalid SSE channel name {channel!r}: use 1-200 letters, digits and _ . : / @ -"
        )
    return channel
