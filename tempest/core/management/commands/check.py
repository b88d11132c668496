"""Run the system checks and report problems."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from tempest.core.management.base import CommandError, get_context

if TYPE_CHECKING:
    from tempest.core.checks import CheckMessage

_LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}


@click.command()
@click.argument("app_labels", nargs=-1)
@click.option("--deploy", is_flag=True, help="Also run the production (deployment) checks.")
@click.option("--tag", "-t", "tags", multiple=True, help="Run only checks with this tag.")
@click.option("--list-tags", is_flag=True, help="List the available tags and exit.")
@click.option(
    "--fail-level",
    type=click.Choice(list(_LEVELS)),
    default="ERROR",
    show_default=True,
    help="Exit non-zero when a message is at this level or above.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the messages as a JSON array of {id, level, message, hint, obj}.",
)
def command(
    app_labels: tuple[str, ...],
    deploy: bool,
    tags: tuple[str, ...],
    list_tags: bool,
    fail_level: str,
    as_json: bool,
) -> None:
    """Run the system checks and report problems.

    APP_LABELS limit the app-level checks to these apps.
    """
    from tempest.apps import apps
    from tempest.core.checks import registry, run_system_checks

    if list_tags:
        click.echo("\n".join(sorted(registry.tags_available(deploy=deploy))))
        return
    unknown_tags = set(tags) - registry.tags_available(deploy=True)
    if unknown_tags:
        raise CommandError(
            f"Unknown tag(s): {', '.join(sorted(unknown_tags))}. "
            f"Run '{get_context().prog_name} check --list-tags' to see them."
        )
    try:
        configs = [apps.get_app_config(label) for label in app_labels] or None
    except LookupError as error:
        raise CommandError(str(error.args[0])) from error
    report = run_system_checks(configs, tags or None, deploy=deploy)
    serious = report.serious(_LEVELS[fail_level])
    if as_json:
        click.echo(json.dumps([_as_dict(message) for message in report.messages], indent=2))
    else:
        click.echo(report.render(), err=bool(serious))
    if serious:
        raise CommandError(
            f"System check found {len(serious)} problem(s) at {fail_level} or above."
        )


def _as_dict(message: CheckMessage) -> dict[str, Any]:
    """A check message for ``--json``: every key always present."""
    return {
        "id": message.id,
        "level": message.level_name,
        "message": message.msg,
        "hint": message.hint,
        "obj": None if message.obj is None else str(message.obj),
    }
