"""The everyday commands: demo, sync, import, activities, plan, feed, label, reclassify, zones."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import click
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from runstrong_sync import athletes, labelling, pipeline, planning, publishing, render
from runstrong_sync.cli.app import App, pass_app
from runstrong_sync.cli.group import cli, prepared
from runstrong_sync.config import Config
from runstrong_sync.core.domain import Label
from runstrong_sync.errors import ConfigError, ExitStatus, RunstrongError
from runstrong_sync.sources import PREPARED, enabled_sources
from runstrong_sync.sources import Progress as ProgressCallback
from runstrong_sync.storage import repo
from runstrong_sync.storage.models import ActivityRow, Athlete

DEMO_FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "demo"
DEMO_ATHLETE = {
    "name": "Demo runner",
    "time_zone": "Europe/Berlin",
    "max_hr": 188,
    "threshold_hr": 168,
    "resting_hr": 50,
    "threshold_pace": "4:15",
    "experience": "beginner",
    "equipment": ["bodyweight", "bands", "dumbbells"],
}


class RateColumn(ProgressColumn):
    """Files per second, once there is a rate to show."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:.0f} files/s" if speed else "", style="progress.data.speed")


@contextmanager
def progress_bar(app: App, what: str) -> Iterator[ProgressCallback]:
    """A progress bar on stderr for people; nothing when output is not a terminal."""
    if not app.errors.is_terminal:
        yield lambda done, total, name: None
        return
    columns = (
        TextColumn(what),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[name]}"),
    )
    with Progress(*columns, console=app.errors, transient=True) as bar:
        task = bar.add_task(what, total=None, name="")

        def update(done: int, total: int | None, name: str) -> None:
            bar.update(task, completed=done, total=total, name=name)

        yield update


def _finish(app: App, report: pipeline.SyncReport, *, quiet: bool) -> int:
    render.print_rejections(app.errors, report.rejected)
    for where, error in report.errors:
        who = "" if report.athlete == pipeline.DEFAULT_ATHLETE else f"{report.athlete}: "
        click.echo(f"{who}{where}: {error} (exit status {int(error.exit_status)})", err=True)
    if not quiet:
        for source in report.sources:
            app.console.print(source.summary(), highlight=False)
        app.console.print(
            f"labels changed: {report.relabelled}; plan: {plan_changes_text(report.plan_changes)}; "
            f"feed {'written' if report.feed_changed else 'unchanged'}: {report.feed_path}",
            highlight=False,
        )
    if report.rejected:
        app.errors.print(rejected_text(report.rejected), highlight=False)
    return int(report.exit_status)


def plan_changes_text(counts: dict[str, int]) -> str:
    """{"added": 1, "changed": 0, ...} as people read it: "1 added, 0 changed, ..."."""
    return ", ".join(f"{n} {what}" for what, n in counts.items()) or "nothing to plan"


def rejected_text(rejected: list[tuple[str, str, str | None]]) -> str:
    moved = sum(1 for _, _, to in rejected if to)
    parts = []
    if moved:
        parts.append(f"{moved} input(s) were set aside, each beside a .reason.txt")
    if len(rejected) - moved:
        parts.append(f"{len(rejected) - moved} input(s) could not be imported and were left where they are")
    return "; ".join(parts) + f"; see the reasons above (exit status {int(ExitStatus.REJECTED_INPUT)})."


def print_waiting(app: App, config: Config, *, where: str) -> None:
    """Files in the inbox still being written: not read now, and when they will be."""
    from runstrong_sync.watch import files_waiting

    for path, age in files_waiting(config):
        app.errors.print(
            f"waiting: {path} changed {age:.0f} s ago (under sources.fit.settle_seconds = "
            f"{config.sources.fit.settle_seconds:g}); {where}",
            highlight=False,
            soft_wrap=True,
        )


@cli.command()
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("runstrong-demo"),
    show_default=True,
    help="Folder for the demo's database and feed.",
)
@pass_app
def demo(app: App, out_dir: Path) -> int:
    """Run the whole job on the bundled sample data: import, label, plan, write the feed."""
    if not DEMO_FIXTURES.is_dir():
        raise RunstrongError(
            f"The sample data is missing ({DEMO_FIXTURES}).",
            ["Run the demo from a clone of the project, installed with `pip install -e .`."],
        )
    out_dir = out_dir.resolve()
    _writable_folder(out_dir)
    config = Config.model_validate(
        {
            "athlete": DEMO_ATHLETE,
            "data_dir": str(out_dir),
            "database": {"url": f"sqlite:///{out_dir / 'runstrong.sqlite'}"},
            "feed": {"path": str(out_dir / "runstrong.ics"), "name": "Strength for running (demo)"},
            "sources": {"fit": {"enabled": False}},
        }
    )
    app.use_config(config)
    clock = pipeline.now_for(app.today, config)
    athlete = pipeline.athlete_id(app.db, config, clock)
    with progress_bar(app, "importing") as progress:
        imported = pipeline.import_paths(app.db, athlete, config, [DEMO_FIXTURES], clock, progress)
    today = app.today or _day_after_newest(app)
    now = pipeline.now_for(today, config)
    report = pipeline.sync(config, app.db, now=now, sources=[])
    report.sources.insert(0, imported)
    athlete = pipeline.athlete_id(app.db, config, now)
    with app.db.transaction() as session:
        items = repo.labelled_activities(session, athlete)
    app.console.print(render.activities_table(items))
    _print_plan(app, athlete, today, 14, explain=False)
    app.console.print(
        f"Demo as of {today.isoformat()} (pin another day with --today).\n"
        f"Database: {out_dir / 'runstrong.sqlite'}\n"
        f"Calendar feed: {report.feed_path}",
        highlight=False,
    )
    return _finish(app, report, quiet=True)


def _writable_folder(folder: Path) -> None:
    """The demo's --out folder exists (or is made) and takes files, or a message that says so."""
    import tempfile

    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise RunstrongError(
            f"The demo cannot write into {folder}: {exc.strerror or exc}.",
            ["Choose a folder you can write to with --out DIR (default ./runstrong-demo)."],
            exit_status=ExitStatus.USAGE,
        ) from exc


def _day_after_newest(app: App) -> date:
    with app.db.transaction() as session:
        rows = repo.activity_rows(session, app.athlete())
    if not rows:
        return date.today()
    return max(repo.row_to_activity(r).local_date for r in rows) + timedelta(days=1)


@cli.command()
@click.option("--source", "sources", multiple=True, help="Only this connector (repeatable): fit, strava...")
@click.option(
    "--since",
    type=click.DateTime(["%Y-%m-%d"]),
    help="Backfill: also bring activities from this date (YYYY-MM-DD) on (Strava, Garmin Connect).",
)
@pass_app
def sync(app: App, sources: tuple[str, ...], since: datetime | None) -> int:
    """Run every configured connector, then classify, plan and write the feed (the nightly job).

    Quiet on success (cron mails whatever is printed); -v shows what happened.
    """
    chosen = list(sources) or None
    options = {"since": since.date()} if since else None
    _something_to_sync(app, chosen)
    if app.athlete_key is not None:
        report = pipeline.sync(
            app.file_config, app.db, now=app.now(), sources=chosen, athlete=app.athlete_key, options=options
        )
        status = _finish(app, report, quiet=not app.verbose)
    else:
        reports = pipeline.sync_all(app.file_config, app.db, now=app.now(), sources=chosen, options=options)
        statuses = [ExitStatus(_finish(app, report, quiet=not app.verbose)) for report in reports]
        status = int(pipeline.worst_status(statuses))
    if app.verbose:
        print_waiting(app, app.config, where="the next sync imports it.")
    return status


def _something_to_sync(app: App, chosen: list[str] | None) -> None:
    """Stop with a pointer to `init` when there is no configuration file and no source at all."""
    config = app.file_config
    if chosen or config.source_path is not None or enabled_sources(config):
        return
    from runstrong_sync.config import default_config_path

    raise ConfigError(
        f"Nothing to sync: there is no configuration file ({default_config_path()} does not exist) "
        "and no source is set in the environment.",
        [
            "Run `runstrong-sync init` to write one (it asks for your inbox folder, time zone and "
            "what you know of your thresholds), or point --config / RUNSTRONG_CONFIG at yours."
        ],
    )


@cli.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON (see README).")
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes for reading files (default: one per core).",
)
@pass_app
def import_(app: App, paths: tuple[Path, ...], as_json: bool, jobs: int | None) -> int:
    """Import activity files, folders or export archives now.

    Takes .fit, .gpx, .tcx (also gzipped) and .zip exports from Garmin Connect or Strava.
    Bad files are set aside in a rejected/ folder beside them, each with a .reason.txt.
    """
    missing = [p for p in paths if not p.exists() and not p.is_symlink()]
    if missing:
        raise click.UsageError(
            f"No such file or folder: {', '.join(str(p) for p in missing)}. Nothing was imported."
        )
    counter = FileCounter()
    started = time.monotonic()
    with progress_bar(app, "importing") as progress:
        report = pipeline.sync(
            app.file_config,
            app.db,
            now=app.now(),
            sources=[],
            import_paths=list(paths),
            progress=counter.wrap(progress),
            athlete=app.athlete_key or pipeline.DEFAULT_ATHLETE,
            options={"jobs": jobs, PREPARED: prepared(click.get_current_context())},
        )
    summary = import_summary(report, counter.total, time.monotonic() - started)
    if as_json:
        click.echo(json.dumps(summary, indent=2, ensure_ascii=False))
        return int(report.exit_status)
    app.console.print(
        f"{summary['files']} file(s) in {summary['seconds']:.1f} s ({summary['files_per_s']:.0f} files/s): "
        f"{summary['new']} new, {summary['updated']} updated, {summary['duplicates']} already known, "
        f"{len(summary['rejected'])} rejected",
        highlight=False,
    )
    if app.config.sources.fit.enabled:
        print_waiting(app, app.config, where="the next sync (or `watch`) imports it once complete.")
    return _finish(app, report, quiet=True)


class FileCounter:
    """Remembers how many inputs the import saw, from its progress reports."""

    def __init__(self) -> None:
        self.total = 0

    def wrap(self, inner: ProgressCallback) -> ProgressCallback:
        def update(done: int, total: int | None, name: str) -> None:
            if total is not None and done == total:
                self.total += total if name == "" else 0
            inner(done, total, name)

        return update


def import_summary(report: pipeline.SyncReport, files: int, seconds: float) -> dict[str, Any]:
    """The end-of-import summary, for people and for ``--json``."""
    imported = [s for s in report.sources if s.name == "import"]
    rejected = report.rejected
    return {
        "files": max(files, len(rejected)),
        "new": sum(s.created for s in imported),
        "updated": sum(s.updated for s in imported),
        "duplicates": sum(s.duplicates for s in imported),
        "rejected": [
            {"file": ref, "reason": reason, "set_aside_to": moved} for ref, reason, moved in rejected
        ],
        "seconds": round(seconds, 3),
        "files_per_s": round(files / seconds, 1) if seconds > 0 else 0.0,
        "labels_changed": report.relabelled,
        "feed": str(report.feed_path) if report.feed_path else None,
    }


def _print_plan(
    app: App,
    athlete: int,
    today: date,
    days: int,
    *,
    explain: bool,
    preview: planning.PlanPreview | None = None,
) -> None:
    if preview is None:
        sessions = publishing.stored_sessions(app.db, athlete)
        with app.db.transaction() as session:
            notes = repo.get_state(session, athlete, planning.PLAN_NOTES_KEY) or {}
    else:
        sessions, notes = preview.sessions, preview.notes
    shown = [s for s in sessions if today <= s.start.date() < today + timedelta(days=days)]
    app.console.print(
        render.plan_table(
            shown,
            notes.get("runs", []),
            notes.get("days", {}),
            today,
            days,
            explain=explain,
            week_notes=notes.get("weeks", {}),
        )
    )


@cli.command()
@click.option("--days", type=click.IntRange(1, 28), default=14, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (see README).")
@click.option("--why", "explain", is_flag=True, help="Explain each day that has no session.")
@pass_app
def plan(app: App, days: int, as_json: bool, explain: bool) -> int:
    """The upcoming strength sessions: date, time, focus, exercises and why that day.

    A preview: it plans from what is stored and writes nothing (the feed changes only by `sync`,
    `feed` or the daemon)."""
    now = app.now()
    athlete = app.athlete()
    preview = planning.preview_plan(app.db, athlete, app.config, now)
    today = now.date()
    if as_json:
        sessions = [s for s in preview.sessions if today <= s.start.date() < today + timedelta(days=days)]
        click.echo(json.dumps([render.session_json(s) for s in sessions], indent=2, ensure_ascii=False))
    else:
        _print_plan(app, athlete, today, days, explain=explain, preview=preview)
    return 0


@cli.group(invoke_without_command=True)
@click.option(
    "--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), help="Where to write the feed."
)
@click.pass_context
def feed(ctx: click.Context, out_path: Path | None) -> int:
    """Write the calendar feed (default: feed.path in the configuration)."""
    if ctx.invoked_subcommand is not None:
        return 0
    app: App = ctx.obj
    path, changed = publishing.publish(app.db, app.athlete(), app.config, app.now(), out_path)
    app.console.print(f"{'written' if changed else 'unchanged'}: {path}", highlight=False)
    return 0


@cli.command()
@pass_app
def reclassify(app: App) -> int:
    """Relabel every activity from stored numbers (after changing zones); no file or Strava is read."""
    now = app.now()
    athlete = app.athlete()
    changed = labelling.relabel(app.db, athlete, app.config, now, everything=True)
    planning.replan(app.db, athlete, app.config, now)
    app.console.print(f"labels changed: {changed}")
    return 0


@cli.command()
@click.argument("activity_id", type=int)
@click.argument("label", type=click.Choice(["easy", "hard", "long", "auto"]))
@pass_app
def label(app: App, activity_id: int, label: str) -> int:
    """Set a run's label yourself (kept across syncs and relabelling); 'auto' gives it back."""
    athlete = app.athlete()
    with app.db.transaction() as session:
        row = session.get(ActivityRow, activity_id)
        visible = row is not None and row.athlete_id == athlete and row.tombstoned_at is None
        activity = repo.row_to_activity(row) if row is not None and visible else None
        if activity is None:
            raise RunstrongError(
                f"No activity with id {activity_id}.",
                ["`runstrong-sync activities` lists the ids."],
                exit_status=ExitStatus.USAGE,
            )
        if not activity.is_run:
            raise RunstrongError(
                f"Activity {activity_id} is a {activity.sport.replace('_', ' ')}, not a run: only runs are "
                "labelled easy, hard or long. Nothing was changed.",
                exit_status=ExitStatus.USAGE,
            )
        repo.set_override(session, athlete, activity_id, None if label == "auto" else Label(label))
    labelling.relabel(app.db, athlete, app.config, app.now())  # the plan follows at the next sync
    with app.db.transaction() as session:
        row = session.get(ActivityRow, activity_id)
        stored = repo.row_classification(row) if row is not None else None
    shown = stored.label.value if stored else label
    how = "given back to the classifier" if label == "auto" else "set by you, kept across syncs"
    app.console.print(
        f"activity {activity_id}: {shown} ({how}).\n"
        "The calendar feed changes at the next `runstrong-sync sync` (or `runstrong-sync feed` now).",
        highlight=False,
    )
    return 0


@cli.command()
@click.option("--json", "as_json", is_flag=True)
@pass_app
def zones(app: App, as_json: bool) -> int:
    """The heart-rate and pace thresholds in use, and where each number came from."""
    current = labelling.current_zones(app.db, app.athlete(), app.config)
    rows: list[dict[str, Any]] = []
    for name, value in (
        ("max_hr", current.max_hr),
        ("threshold_hr", current.threshold_hr),
        ("resting_hr", current.resting_hr),
        ("threshold_speed_mps", current.threshold_speed_mps),
    ):
        rows.append(
            {
                "name": name,
                "value": value.value if value else None,
                "source": value.source.value if value else None,
                "method": value.method if value else None,
            }
        )
    zone = _time_zone_row(app)
    if as_json:
        click.echo(json.dumps([*rows, zone], indent=2))
        return 0
    table = Table(title="Zones in use", title_justify="left")
    for column in ("Threshold", "Value", "Source", "How"):
        table.add_column(column)
    for row in rows:
        value = row["value"]
        shown = (
            "-"
            if value is None
            else (
                f"{value:.2f} m/s ({render_pace(value)})"
                if row["name"] == "threshold_speed_mps"
                else f"{value:.0f} bpm"
            )
        )
        table.add_row(row["name"], shown, row["source"] or "-", row["method"] or "not known")
    app.console.print(table)
    click.echo(f"time zone: {zone['value']} (from {zone['source']})")
    _print_zones_history(app)
    return 0


def _time_zone_row(app: App) -> dict[str, Any]:
    """The time zone in use and where it came from, as one more row of `zones`."""
    athlete_id, config = app.athlete(), app.config
    with app.db.transaction() as session:
        row = session.get(Athlete, athlete_id)
        settings = row.settings_json or {} if row is not None else {}
        configured = athletes.zone_configured(app.file_config, settings)
        choice = athletes.time_zone_choice(session, athlete_id, config, configured)
    return {"name": "time_zone", "value": choice.name, "source": choice.source, "method": choice.mismatch}


def _print_zones_history(app: App) -> None:
    """Each run is judged by the thresholds in force at its date: show how they changed."""
    periods = labelling.zones_history(app.db, app.athlete(), app.config)
    if len(periods) < 2:
        return
    table = Table(title="Thresholds over time (each run is judged by its own date's)", title_justify="left")
    for column in ("From", "Threshold HR", "Max HR", "Threshold pace", "How"):
        table.add_column(column)
    for since, zones in periods:
        lthr, hrmax, speed = zones.threshold_hr, zones.max_hr, zones.threshold_speed_mps
        how = "; ".join(
            f"{v.method}{' (thin)' if v.thin else ''}"
            for v in (lthr, hrmax, speed)
            if v is not None and v.source.value == "estimated"
        )
        table.add_row(
            since.isoformat(),
            f"{lthr.value:.0f} ({lthr.source.value})" if lthr else "-",
            f"{hrmax.value:.0f} ({hrmax.source.value})" if hrmax else "-",
            f"{render_pace(speed.value)} ({speed.source.value})" if speed else "-",
            how or "-",
        )
    app.console.print(table)


def render_pace(speed_mps: float) -> str:
    seconds = round(1000 / speed_mps)
    return f"{seconds // 60}:{seconds % 60:02d}/km"
