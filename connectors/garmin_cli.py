"""`runstrong-sync garmin auth|status|disconnect`: sign in to Garmin Connect once, look, let go;
`runstrong-sync workouts --fit DIR`: the coming sessions as FIT workout files.

The garminconnect library is imported only inside the commands, so `--help` works without the
`garmin` extra installed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from sqlalchemy import delete

from runstrong_sync.cli.app import App, pass_app
from runstrong_sync.errors import RunstrongError
from runstrong_sync.storage import repo
from runstrong_sync.storage.models import GarminWorkoutRow, StateRow

from .garmin_plugin import GarminSettings

TOKENS_KEY = "garmin.tokens"  # as runstrong_sync.connectors.garmin_api
INDEX_KEY = "garmin.index"  # as runstrong_sync.connectors.garmin
CURSOR_KEY = "garmin.backfill"
GARMIN_KEYS = (TOKENS_KEY, INDEX_KEY, CURSOR_KEY, "garmin.scan")


@click.group()
def garmin() -> None:
    """Sign in to Garmin Connect (auth), see the connection (status), or remove it (disconnect)."""


@garmin.command()
@click.option("--email", help="Your Garmin Connect email (asked when not given).")
@pass_app
def auth(app: App, email: str | None) -> int:
    """Sign in to Garmin Connect once; only the sign-in tokens are kept (never the password)."""
    from . import garmin_api

    garmin_api.library()  # a clear message now when the extra is missing
    email = email or click.prompt("Garmin Connect email")
    password = click.prompt("Password (not stored)", hide_input=True)

    def ask_code() -> str:
        return str(click.prompt("Garmin sent you a code (MFA); enter it")).strip()

    click.echo("Signing in to Garmin Connect ...", err=True)
    tokens, who = garmin_api.sign_in(str(email), password, ask_code)
    del password
    stored: dict[str, Any] = {
        "tokens": tokens,
        "display_name": who.get("display_name"),
        "full_name": who.get("full_name"),
        "connected_at": datetime.now(UTC).isoformat(),
    }
    athlete = app.athlete()
    with app.db.transaction() as session:
        repo.set_state(session, athlete, garmin_api.TOKENS_KEY, stored, app.now())
    name = who.get("full_name") or who.get("display_name") or "your account"
    click.echo(f"Connected to Garmin Connect as {name}.")
    if not app.config.sources.get("garmin", GarminSettings).enabled:
        click.echo("Next: set `enabled = true` under [sources.garmin] so `runstrong-sync sync` uses it.")
    return 0


@garmin.command()
@pass_app
def status(app: App) -> int:
    """Whether Garmin Connect is connected, what is known from it, and where a backfill stands."""
    athlete = app.athlete()
    with app.db.transaction() as session:

        def get(key: str) -> dict[str, Any]:
            return repo.get_state(session, athlete, key) or {}

        tokens, index, cursor = get(TOKENS_KEY), get(INDEX_KEY), get(CURSOR_KEY)
    from . import garmin_push

    pushed = garmin_push.mapping_count(app.db, athlete)
    settings = app.config.sources.get("garmin", GarminSettings)
    lines = [
        f"Garmin Connect sync: {'enabled' if settings.enabled else 'disabled'}; "
        f"workouts to the watch: {'on' if settings.push_workouts else 'off'}"
    ]
    if tokens.get("tokens"):
        who = tokens.get("full_name") or tokens.get("display_name") or "?"
        lines.append(f"Connected as {who} since {tokens.get('connected_at', '?')[:16]}.")
        if tokens.get("refreshed_at"):
            lines.append(f"Tokens last refreshed {tokens['refreshed_at'][:16]} (automatically).")
    else:
        lines.append("Not connected: run `runstrong-sync garmin auth`.")
    lines.append(f"Activities known from Garmin Connect: {len(index.get('activities', {}))}")
    if cursor.get("since"):
        lines.append(
            f"A backfill from {cursor['since']} stopped after {cursor.get('start', 0)} activities; "
            "the next sync goes on from there."
        )
    if pushed:
        lines.append(f"Workouts runstrong-sync keeps in the Garmin Connect calendar: {pushed}")
    for line in lines:
        app.console.print(line, highlight=False, markup=False)
    return 0


def _remove_our_workouts(app: App, athlete: int) -> int:
    """Delete the coming workouts we made in Garmin Connect (best effort); past ones stay there."""
    from runstrong_sync import pipeline

    from . import garmin_api, garmin_push

    if not garmin_push.mapping_count(app.db, athlete):
        return 0
    context = pipeline.make_context(app.db, athlete, app.config, app.now())
    try:
        link = garmin_api.GarminLink(context.load_state, context.save_state)
        mappings = garmin_push.Mappings(app.db, athlete, app.now())
        return garmin_push.Pusher(link, mappings).run([], app.now(), 0).removed
    except RunstrongError as err:
        app.errors.print(
            f"The workouts runstrong-sync made could not be removed from Garmin Connect ({err.message}); "
            "delete the ones named 'Strength (runstrong-sync)' there if you want them gone.",
            highlight=False,
            markup=False,
        )
        return 0


@garmin.command()
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_app
def disconnect(app: App, yes: bool) -> int:
    """Remove our coming workouts there, forget the tokens and sync state (imported activities stay)."""
    athlete = app.athlete()
    if not yes:
        click.confirm("Forget the Garmin Connect sign-in and its sync state?", abort=True)
    removed = _remove_our_workouts(app, athlete)
    with app.db.transaction() as session:
        session.execute(delete(GarminWorkoutRow).where(GarminWorkoutRow.athlete_id == athlete))
        had = bool((repo.get_state(session, athlete, TOKENS_KEY) or {}).get("tokens"))
        session.execute(delete(StateRow).where(StateRow.athlete_id == athlete, StateRow.key.in_(GARMIN_KEYS)))
    if not had:
        raise RunstrongError("Garmin Connect was not connected; nothing to forget.")
    if removed:
        app.console.print(f"Removed {removed} coming workouts runstrong-sync had made in Garmin Connect.")
    app.console.print(
        "Disconnected: the Garmin Connect tokens were deleted here. Activities already imported stay; "
        "to end the sign-in at Garmin too, sign out of other sessions in Garmin Connect's account settings.",
        highlight=False,
        markup=False,
    )
    return 0


@click.command()
@click.option(
    "--fit",
    "fit_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder to write FIT workout files to (then copy them to the watch's GARMIN/NewFiles).",
)
@click.option(
    "--days",
    type=click.IntRange(1, 28),
    help="Sessions of the next N days (default: the plan's stable window, planner.stable_hours).",
)
@pass_app
def workouts(app: App, fit_dir: Path, days: int | None) -> int:
    """Write the coming strength sessions as FIT workout files, for a watch without Garmin Connect."""
    from runstrong_sync import publishing

    from . import garmin_fit, garmin_steps

    hours = days * 24 if days else app.config.planner.stable_hours
    sessions = garmin_steps.upcoming(publishing.stored_sessions(app.db, app.athlete()), app.now(), hours)
    written, removed = garmin_fit.write_sessions(sessions, fit_dir)
    for path in written:
        app.console.print(str(path), highlight=False, markup=False)
    for path in removed:
        app.console.print(
            f"removed {path} (that session moved or was dropped)", highlight=False, markup=False
        )
    if not sessions:
        app.console.print(
            f"No planned sessions in the next {hours} hours (run `runstrong-sync sync` to plan).",
            highlight=False,
            markup=False,
        )
    return 0
