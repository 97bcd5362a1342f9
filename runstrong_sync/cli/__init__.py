"""The `runstrong-sync` command line: one group, one error handler, commands in submodules."""

from __future__ import annotations

import gc
import importlib
import sys
import threading
from pathlib import Path
from typing import Any

import click

from runstrong_sync.cli.app import App, parse_today, setup_logging, today_from_env
from runstrong_sync.errors import ExitStatus, RunstrongError

# Every command lives in a submodule that is imported only when the command runs, so `--help` and
# each command load only what they use (stravalib, Alembic, watchdog and SQLAlchemy take most of a
# second). The short help shown by `--help` is kept here; tests check it against the commands.
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "activities": ("core",),
    "athletes": ("ops",),
    "daemon": ("ops",),
    "demo": ("core",),
    "feed": ("core", "serve"),  # `feed rotate-token` lives in serve
    "import": ("core",),
    "label": ("core",),
    "plan": ("core",),
    "reclassify": ("core",),
    "serve": ("serve",),
    "status": ("ops",),
    "strava": ("strava",),
    "sync": ("core",),
    "watch": ("watch",),
    "week": ("week",),
    "zones": ("core",),
}
SHORT_HELP: dict[str, str] = {
    "activities": "Every activity with source, start, duration, distance, label, confidence and reasons.",
    "athletes": "Several athletes in one install (a coach and a squad): each with their own sources, "
    "settings and secret feed URL.",
    "daemon": "Run the nightly sync ([daemon] sync_time), optional polling, the folder watcher and the "
    "feed server in one process.",
    "demo": "Run the whole job on the bundled sample data: import, label, plan, write the feed.",
    "feed": "Write the calendar feed (default: feed.path in the configuration).",
    "import": "Import activity files, folders or export archives now.",
    "label": "Set a run's label yourself (kept across syncs and relabelling); 'auto' gives it back.",
    "plan": "The upcoming strength sessions: date, time, focus, exercises and why that day.",
    "reclassify": "Relabel every activity from stored numbers (after changing zones); no file or Strava "
    "is read.",
    "serve": "Serve the calendar feeds over HTTP and print the URLs to subscribe with.",
    "status": "Last sync of each source and its outcome, Strava token and rate limit, files waiting and "
    "rejected, the feed URL and the database in use (every athlete, or only --athlete).",
    "strava": "Connect Strava (auth), see the connection (status), or remove it and its data (disconnect).",
    "sync": "Run every configured connector, then classify, plan and write the feed (the nightly job).",
    "watch": "Watch the inbox (sources.fit.inbox) and import each file once it is complete.",
    "week": "This week and next: runs with labels and reasons, strength sessions, load and sync health.",
    "zones": "The heart-rate and pace thresholds in use, and where each number came from.",
}


def load_command_modules(names: Any = None) -> None:
    """Import the modules of the named commands (all of them by default); they register on `cli`."""
    wanted = COMMAND_MODULES if names is None else {n: COMMAND_MODULES[n] for n in names}
    for modules in wanted.values():
        for module in modules:
            importlib.import_module(f"runstrong_sync.cli.{module}")


_STARTING = threading.Event()


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(COMMAND_MODULES))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMAND_MODULES:
            load_command_modules([cmd_name])
        elif cmd_name not in self.commands:
            load_command_modules()  # a command registered by a module without an entry above
        if _STARTING.is_set():  # a real process (main): what start-up built lives to the end
            _STARTING.clear()
            gc.freeze()  # so later collections need not look at it
            gc.enable()
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from the short help above, without importing any command."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            command = self.commands.get(name) or click.Command(name, short_help=SHORT_HELP.get(name, ""))
            if not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Configuration file (default: $RUNSTRONG_CONFIG, then the user config dir).",
)
@click.option(
    "--today", metavar="YYYY-MM-DD", help="Pin 'today' for reproducible runs (also RUNSTRONG_TODAY)."
)
@click.option("-v", "--verbose", is_flag=True, help="Debug output, and tracebacks on errors.")
@click.option(
    "--athlete",
    "athlete_key",
    metavar="KEY",
    envvar="RUNSTRONG_ATHLETE",
    help="Act for this athlete (see `athletes list`; also RUNSTRONG_ATHLETE). Default: the default one.",
)
@click.pass_context
def cli(
    ctx: click.Context, config_path: Path | None, today: str | None, verbose: bool, athlete_key: str | None
) -> None:
    """Strength sessions placed around your running, published as a calendar feed."""
    app = App(config_path=config_path, verbose=verbose, athlete_key=athlete_key)
    setup_logging(verbose, app.errors)
    app.today = parse_today(today or today_from_env())
    ctx.obj = app
    ctx.call_on_close(app.close)


def main(argv: list[str] | None = None) -> None:
    """Entry point: the single place where errors become messages and exit statuses."""
    verbose = "-v" in (argv or sys.argv[1:]) or "--verbose" in (argv or sys.argv[1:])
    gc.disable()  # no collections while the command's modules load (see LazyGroup.get_command)
    _STARTING.set()
    try:
        status = cli.main(args=argv, prog_name="runstrong-sync", standalone_mode=False)
    except RunstrongError as exc:
        click.echo(f"Error: {exc}", err=True)
        if verbose:
            raise
        sys.exit(int(exc.exit_status))
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except Exception as exc:
        if verbose:
            raise
        click.echo(
            f"Error: unexpected {type(exc).__name__}: {exc}\nRun again with -v for the full traceback.",
            err=True,
        )
        sys.exit(int(ExitStatus.FAILED))
    finally:
        _STARTING.clear()
        gc.enable()
    sys.exit(int(status) if isinstance(status, int) else 0)
