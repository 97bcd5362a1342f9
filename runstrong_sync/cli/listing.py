"""`activities`: what is stored, newest last, without loading the planner or the connectors."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import click

from runstrong_sync import render
from runstrong_sync.cli.app import App
from runstrong_sync.cli.group import cli
from runstrong_sync.storage import repo

TERMINAL_WEEKS = 8  # what `activities` shows in the terminal unless told otherwise


@cli.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (see README).")
@click.option(
    "--since",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help=f"Only activities from this day (YYYY-MM-DD) on (default: the last {TERMINAL_WEEKS} weeks in "
    "the terminal, everything with --json).",
)
@click.option("--days", type=click.IntRange(min=1), default=None, help="Only the last N days.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Only the newest N activities.")
@click.option("--all", "everything", is_flag=True, help="Every activity, however old.")
@click.pass_context
def activities(
    ctx: click.Context,
    as_json: bool,
    since: datetime | None,
    days: int | None,
    limit: int | None,
    everything: bool,
) -> int:
    """Every activity with source, start, duration, distance, label, confidence and reasons.

    `activities delete ID` deletes one."""
    if ctx.invoked_subcommand is not None:
        return 0
    app: App = ctx.obj
    now = app.now()
    start: datetime | None = None
    if since is not None:
        start = since.replace(tzinfo=app.config.athlete.zone)
    elif days:
        start = now - timedelta(days=days)
    elif not as_json and not everything and limit is None:
        start = now - timedelta(weeks=TERMINAL_WEEKS)
    with app.db.transaction() as session:
        items = repo.labelled_activities(session, app.athlete(), start, limit=limit)
    if as_json:
        click.echo(json.dumps([render.activity_json(i) for i in items], indent=2, ensure_ascii=False))
        return 0
    app.console.print(render.activities_table(items))
    if start is not None and since is None and not days:
        app.errors.print(
            f"The last {TERMINAL_WEEKS} weeks; --since YYYY-MM-DD, --limit N or --all show more.",
            highlight=False,
        )
    return 0
