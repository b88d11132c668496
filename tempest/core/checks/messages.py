"""Messages that system checks return."""

from __future__ import annotations

from dataclasses import dataclass

DEBUG = 10
INFO = 20
WARNING = 30
ERROR = 40
CRITICAL = 50

_LEVEL_NAMES = {
    DEBUG: "DEBUG",
    INFO: "INFO",
    WARNING: "WARNING",
    ERROR: "ERROR",
    CRITICAL: "CRITICAL",
}


@dataclass(frozen=True)
class CheckMessage:
    """One finding of a system check.

    Attributes:
        level: Severity; ERROR and above stop ``runserver``, ``serve``, ``migrate`` and
            ``check``.
        msg: What is wrong.
        hint: How to fix it.
        obj: What the message is about (an app label, a setting, a model), for display.
        id: Stable identifier such as ``tempest.E001``; listed in SILENCED_SYSTEM_CHECKS
            to silence it.
    """

    level: int
    msg: str
    hint: str | None = None
    obj: object = None
    id: str | None = None

    def is_serious(self, level: int = ERROR) -> bool:
        """Whether this message is at least ``level``."""
        return self.level >= level

    @property
    def level_name(self) -> str:
        """The level as a word (``ERROR``)."""
        return _LEVEL_NAMES.get(self.level, str(self.level))

    def __str__(self) -> str:
        prefix = f"{self.obj}: " if self.obj is not None else ""
        ident = f"({self.id}) " if self.id else ""
        hint = f"\n\tHINT: {self.hint}" if self.hint else ""
        return f"{prefix}{ident}{self.msg}{hint}"


class Debug(CheckMessage):
    """A DEBUG-level message."""

    def __init__(
        self, msg: str, hint: str | None = None, obj: object = None, id: str | None = None
    ):
        super().__init__(DEBUG, msg, hint, obj, id)


class Info(CheckMessage):
    """An INFO-level message."""

    def __init__(
        self, msg: str, hint: str | None = None, obj: object = None, id: str | None = None
    ):
        super().__init__(INFO, msg, hint, obj, id)


class Warning(CheckMessage):
    """A WARNING-level message: reported, does not stop the server."""

    def __init__(
        self, msg: str, hint: str | None = None, obj: object = None, id: str | None = None
    ):
        super().__init__(WARNING, msg, hint, obj, id)


class Error(CheckMessage):
    """An ERROR-level message: stops ``runserver`` and ``serve``."""

    def __init__(
        self, msg: str, hint: str | None = None, obj: object = None, id: str | None = None
    ):
        super().__init__(ERROR, msg, hint, obj, id)


class Critical(CheckMessage):
    """A CRITICAL-level message."""

    def __init__(
        self, msg: str, hint: str | None = None, obj: object = None, id: str | None = None
    ):
        super().__init__(CRITICAL, msg, hint, obj, id)
