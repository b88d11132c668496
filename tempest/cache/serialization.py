"""How cached values become bytes and back: JSON by default, through pydantic.

A function with a return annotation is cached through a pydantic ``TypeAdapter`` of that
annotation, so a model (or a list of models, a UUID, a datetime) comes back from the
cache as the same type it went in as. Without an annotation (or ``-> Any``), the value
is written with pydantic's JSON encoder and read back as plain JSON (dicts, lists...).

A caller may pass its own ``serializer``/``deserializer`` (``pickle.dumps`` /
``pickle.loads`` among them); tempest itself only ever parses JSON from the cache.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Callable
from typing import Any

__all__ = ["Codec", "Deserializer", "Serializer", "call_identity"]

Serializer = Callable[[Any], "bytes | str"]
"""Turns a value into the bytes (or text) stored."""

Deserializer = Callable[[bytes], Any]
"""Turns the stored bytes back into the value."""

_UNTYPED = (Any, object, None)
_SIMPLE = frozenset({str, int, float, bool, type(None)})


class Codec:
    """The serializer and deserializer of one cached function's values.

    The pydantic adapter of the return annotation is built on first use (annotations
    may name classes defined after the function).
    """

    __slots__ = ("_adapter", "_deserializer", "_function", "_resolved", "_serializer", "name")

    def __init__(
        self,
        function: Callable[..., Any],
        name: str,
        serializer: Serializer | None = None,
        deserializer: Deserializer | None = None,
    ) -> None:
        """Serialize ``function``'s values.

        Args:
            function: The cached function (its return annotation is read lazily).
            name: Its name in error messages (module and qualified name).
            serializer: Own serializer; default JSON.
            deserializer: Own deserializer; default JSON.

        Raises:
            TypeError: Only one of ``serializer`` and ``deserializer`` is given.
        """
        if (serializer is None) != (deserializer is None):
            raise TypeError(
                f"cached {name}: pass both serializer= and deserializer=, or neither (JSON)"
            )
        self._function = function
        self.name = name
        self._serializer = serializer
        self._deserializer = deserializer
        self._adapter: Any = None
        self._resolved = False

    def _type_adapter(self) -> Any:
        if not self._resolved:
            self._resolved = True
            try:
                annotation = typing.get_type_hints(self._function).get("return", None)
            except Exception:  # an annotation that cannot be resolved: plain JSON
                annotation = None
            if annotation not in _UNTYPED and annotation is not type(None):
                from pydantic import TypeAdapter

                try:
                    self._adapter = TypeAdapter(annotation)
                except Exception:  # a type pydantic cannot handle (an arbitrary class)
                    self._adapter = None
        return self._adapter

    def dumps(self, value: Any) -> bytes:
        """The bytes stored for ``value``.

        Raises:
            TypeError: The value cannot be serialized (the message names the function).
        """
        if self._serializer is not None:
            try:
                data = self._serializer(value)
            except Exception as error:
                raise self._unserializable(value, error) from error
            if isinstance(data, str):
                return data.encode()
            if isinstance(data, (bytes, bytearray, memoryview)):
                return bytes(data)
            raise TypeError(
                f"the serializer of cached {self.name} returned {type(data).__name__}; "
                "it must return bytes or str"
            )
        from pydantic_core import PydanticSerializationError, to_json

        adapter = self._type_adapter()
        try:
            if adapter is not None:
                return bytes(adapter.dump_json(value, warnings="error"))
            return to_json(value)
        except (PydanticSerializationError, ValueError, TypeError) as error:
            raise self._unserializable(value, error) from error

    def loads(self, payload: bytes) -> Any:
        """The value of stored bytes (raises whatever the deserializer raises)."""
        if self._deserializer is not None:
            return self._deserializer(payload)
        adapter = self._type_adapter()
        if adapter is not None:
            return adapter.validate_json(payload)
        return json.loads(payload)

    def _unserializable(self, value: Any, error: Exception) -> TypeError:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        return TypeError(
            f"cached {self.name} returned a {type(value).__name__} that cannot be "
            f"serialized{' as JSON' if self._serializer is None else ''} ({first_line}); "
            "return JSON-able data (dicts, lists, pydantic models...) or pass "
            "serializer=/deserializer="
        )


def call_identity(name: str, arguments: dict[str, Any]) -> bytes:
    """Canonical JSON of a call's bound arguments: what its key's digest is taken of.

    Args:
        name: The function's name, for the error message.
        arguments: Parameter name -> value.

    Raises:
        TypeError: An argument has no JSON form (the message names it and the function).
    """
    values = tuple(arguments.values())
    if all(type(value) in _SIMPLE for value in values):  # the common case, made quick
        return json.dumps(values, separators=(",", ":")).encode()
    from pydantic_core import PydanticSerializationError, to_jsonable_python

    try:
        plain = to_jsonable_python(arguments)
    except PydanticSerializationError:
        for parameter, value in arguments.items():
            try:
                to_jsonable_python(value)
            except PydanticSerializationError:
                raise TypeError(
                    f"cached {name}: argument {parameter!r} ({type(value).__name__}) cannot "
                    "be part of a cache key; pass JSON-able arguments, or key=<a function "
                    "of the arguments returning a str> to build the key yourself"
                ) from None
        raise
    return json.dumps(plain, sort_keys=True, separators=(",", ":"), default=str).encode()
