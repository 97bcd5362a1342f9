"""Changing what is stored: `activities delete`, and the confirmation every destructive command asks."""

from __future__ import annotations

import sys

import click

from runstrong_sync import athletes, render
from runstrong_sync.cli.app import App, pass_app
from runstrong_sync.cli.listing import activities
from runstrong_sync.errors import ExitStatus, RunstrongError
from runstrong_sync.storage import deletions, repo
from runstrong_sync.storage.models import ActivityRow


def confirm(question: str, flag: str = "--yes") -> None:
    """Ask on a terminal; without one, stop and say which flag goes ahead without asking."""
    if not sys.stdin.isatty():
        raise click.UsageError(
            f"{question} This needs a yes from a terminal, and there is none: add {flag} to go ahead "
            "without asking."
        )
    click.confirm(question, abort=True)


def not_found(what: str, key: object, hint: str) -> RunstrongError:
    return RunstrongError(f"No {what} with id {key}.", [hint], exit_status=ExitStatus.USAGE)


@activities.command("delete")
@click.argument("activity_id", type=int)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_app
def delete(app: App, activity_id: int, yes: bool) -> int:
    """Delete one activity (its id from `runstrong-sync activities`).

    It stays deleted: the next `sync` does not bring it back from the inbox or Strava, even when
    Strava still has it. Importing its file by name (`runstrong-sync import FILE`) brings it back.
    The plan and the feed change at the next `sync` (or `runstrong-sync feed`).
    """
    athlete = app.athlete()
    with app.db.transaction() as session:
        row = session.get(ActivityRow, activity_id)
        activity = repo.row_to_activity(row) if row is not None and row.athlete_id == athlete else None
    if activity is None:
        raise not_found("activity", activity_id, "`runstrong-sync activities` lists the ids.")
    what = (
        f"{activity.sport} on {activity.start_local:%a %Y-%m-%d %H:%M}, "
        f"{render.duration_text(activity.elapsed_s)} ({activity.source_ref})"
    )
    if not yes:
        confirm(f"Delete activity {activity_id}, {what}?")
    with app.db.transaction() as session:
        deletions.delete_activity(session, athlete, activity_id, app.now())
        athletes.keep_zone(session, athlete, app.file_config, app.now())  # what status shows
    from runstrong_sync import planning  # only when something was deleted

    planning.replan(app.db, athlete, app.config, app.now())
    app.console.print(
        f"deleted activity {activity_id}: {what}.\n"
        "The next sync will not bring it back; `runstrong-sync import FILE` would. "
        "The feed changes at the next `runstrong-sync sync` (or `runstrong-sync feed`).",
        highlight=False,
    )
    return 0
