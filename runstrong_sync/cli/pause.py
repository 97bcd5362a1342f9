"""`runstrong-sync pause [--until DATE]` and `resume`: the runner says they are not running."""

from __future__ import annotations

from datetime import date, datetime

import click

from runstrong_sync.cli.app import App, pass_app
from runstrong_sync.cli.group import cli
from runstrong_sync.storage import planstate


@cli.command()
@click.option(
    "--until",
    "until",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The last day of the break (YYYY-MM-DD); without it, until `resume`.",
)
@pass_app
def pause(app: App, until: datetime | None) -> int:
    """Not running for a while (injury, holiday): the usual week is no longer expected, the plan
    holds one short maintenance session a week (no plyometrics), then a short return block.
    The next `sync` updates the calendar."""
    now = app.now()
    today = now.date()
    last: date | None = until.date() if until is not None else None
    if last is not None and last < today:
        raise click.BadParameter(
            f"{last.isoformat()} is before today ({today.isoformat()}).", param_hint="--until"
        )
    athlete = app.athlete()
    with app.db.transaction() as session:
        planstate.set_pause(session, athlete, planstate.Pause(today, last), now)
    to = f"until {last.isoformat()}" if last else "until `runstrong-sync resume`"
    app.console.print(
        f"Paused from {today.isoformat()} {to}. Run `runstrong-sync sync` to update the calendar."
    )
    return 0


@cli.command()
@pass_app
def resume(app: App) -> int:
    """Running again: the pause ends today; a short return block follows."""
    now = app.now()
    athlete = app.athlete()
    with app.db.transaction() as session:
        current = planstate.get_pause(session, athlete)
        if current is None:
            app.console.print("Not paused.")
            return 0
        yesterday = date.fromordinal(now.date().toordinal() - 1)
        if current.since > yesterday:
            planstate.set_pause(session, athlete, None, now)
        else:
            planstate.set_pause(session, athlete, planstate.Pause(current.since, yesterday), now)
    app.console.print("Resumed. Run `runstrong-sync sync` to update the calendar.")
    return 0
