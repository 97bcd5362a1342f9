"""The `runstrong-sync` command line: one group, one error handler, commands in submodules."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import click

from runstrong_sync.cli.app import App, parse_today, setup_logging, today_from_env
from runstrong_sync.errors import ExitStatus, RunstrongError
from runstrong_sync.privacy import set_private_umask

# Command groups whose modules are slow to import (stravalib takes about a second), loaded only
# when named, so `sync`, cron and the tests start quickly.
LAZY_COMMANDS = {
    "strava": "runstrong_sync.cli.strava",
    "garmin": "runstrong_sync.cli.garmin",
    "workouts": "runstrong_sync.cli.garmin",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(LAZY_COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS and cmd_name not in self.commands:
            importlib.import_module(LAZY_COMMANDS[cmd_name])  # registers itself on `cli`
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="runstrong-sync", prog_name="runstrong-sync")
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
    """Strength sessions placed around your running, published as a calendar feed.

    New here? `runstrong-sync init` writes your configuration. Shell completion (bash; zsh and
    fish in the README), in ~/.bashrc:

    \b
      eval "$(_RUNSTRONG_SYNC_COMPLETE=bash_source runstrong-sync)"
    """
    set_private_umask()  # before anything is written: files 0600, directories 0700
    app = App(config_path=config_path, verbose=verbose, athlete_key=athlete_key)
    setup_logging(verbose, app.errors)
    app.today = parse_today(today or today_from_env())
    ctx.obj = app
    ctx.call_on_close(app.close)


def main(argv: list[str] | None = None) -> None:
    """Entry point: the single place where errors become messages and exit statuses."""
    verbose = "-v" in (argv or sys.argv[1:]) or "--verbose" in (argv or sys.argv[1:])
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
    sys.exit(int(status) if isinstance(status, int) else 0)


# Commands register themselves on `cli` when their module is imported; one line per module.
# isort: off
from runstrong_sync.cli import core  # noqa: E402,F401
from runstrong_sync.cli import edit  # noqa: E402,F401
from runstrong_sync.cli import init  # noqa: E402,F401
from runstrong_sync.cli import ops  # noqa: E402,F401
from runstrong_sync.cli import pause  # noqa: E402,F401
from runstrong_sync.cli import serve  # noqa: E402,F401
from runstrong_sync.cli import watch  # noqa: E402,F401
from runstrong_sync.cli import week  # noqa: E402,F401
# isort: on
