"""Running the checks and turning their messages into a report."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from tempest.core.checks.messages import ERROR, WARNING, CheckMessage
from tempest.core.checks.registry import registry


@dataclass
class CheckReport:
    """The outcome of one run of the system checks.

    Attributes:
        messages: Every message that was not silenced.
        silenced: How many messages SILENCED_SYSTEM_CHECKS removed.
    """

    messages: list[CheckMessage]
    silenced: int

    def serious(self, level: int = ERROR) -> list[CheckMessage]:
        """Messages at ``level`` or above."""
        return [message for message in self.messages if message.is_serious(level)]

    def render(self) -> str:
        """The report as text, errors first, as ``manage.py check`` prints it."""
        silenced = f" ({self.silenced} silenced)"
        if not self.messages:
            return f"System check identified no issues{silenced}."
        lines: list[str] = []
        for title, low, high in (("ERRORS", ERROR, 10**6), ("WARNINGS", WARNING, ERROR)):
            found = [message for message in self.messages if low <= message.level < high]
            if found:
                lines.append(f"{title}:")
                lines.extend(str(message) for message in found)
                lines.append("")
        others = [message for message in self.messages if message.level < WARNING]
        if others:
            lines.append("INFOS:")
            lines.extend(str(message) for message in others)
            lines.append("")
        count = len(self.messages)
        noun = "issue" if count == 1 else "issues"
        lines.append(f"System check identified {count} {noun}{silenced}.")
        return "\n".join(lines)


def run_system_checks(
    app_configs: Sequence[Any] | None = None,
    tags: Iterable[str] | None = None,
    deploy: bool = False,
) -> CheckReport:
    """Run the registered checks with SILENCED_SYSTEM_CHECKS applied.

    Args:
        app_configs: Only these apps (None: every app).
        tags: Only checks with one of these tags.
        deploy: Include the deployment checks.

    Returns:
        The report.
    """
    from tempest.conf import settings

    everything = registry.run_checks(app_configs, tags, include_deployment_checks=deploy)
    silenced_ids = set(settings.SILENCED_SYSTEM_CHECKS)
    kept = [message for message in everything if message.id not in silenced_ids]
    return CheckReport(kept, len(everything) - len(kept))
