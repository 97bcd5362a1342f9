"""The `runstrong-sync` group: global options, and the connectors' command groups mounted by name."""

from __future__ import annotations

import gc
import importlib
import threading
from pathlib import Path
from typing import Any

import click

from runstrong_sync import sources
from runstrong_sync.cli.app import App, parse_today, setup_logging, today_from_env
from runstrong_sync.privacy import set_private_umask

# Every command lives in a submodule that is imported only when the command runs, so `--help` and
# each command load only what they use (stravalib, Alembic, watchdog and SQLAlchemy take most of a
# second). The short help shown by `--help` is kept here; tests check it against the commands.
# Connectors' commands come from their plugins (runstrong_sync.sources).
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "activities": ("listing", "edit"),  # `activities delete` lives in edit
    "athletes": ("ops",),
    "daemon": ("ops",),
    "demo": ("core",),
    "feed": ("core", "serve"),  # `feed rotate-token` lives in serve
    "import": ("core",),
    "init": ("init",),
    "label": ("core",),
    "pause": ("pause",),
    "plan": ("core",),
    "reclassify": ("core",),
    "resume": ("pause",),
    "serve": ("serve",),
    "status": ("ops",),
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
    "init": "Write your configuration file, create the inbox folder and say what to run next.",
    "label": "Set a run's label yourself (kept across syncs and relabelling); 'auto' gives it back.",
    "pause": "Not running for a while (injury, holiday): the usual week is no longer expected, the plan "
    "holds one short maintenance session a week (no plyometrics), then a short return block.",
    "plan": "The upcoming strength sessions: date, time, focus, exercises and why that day.",
    "reclassify": "Relabel every activity from stored numbers (after changing zones); no file or Strava "
    "is read.",
    "resume": "Running again: the pause ends today; a short return block follows.",
    "serve": "Serve the calendar feeds over HTTP and print the URLs to subscribe with.",
    "status": "Last sync of each source and its outcome, Strava token and rate limit, files waiting and "
    "rejected, the feed URL and the database in use (every athlete, or only --athlete).",
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


STARTING = threading.Event()  # set by main(): a real process, whose start-up objects live to the end


class LazyGroup(click.Group):
    """Commands are imported only when named: the project's own from ``COMMAND_MODULES``, each
    connector's (``runstrong-sync strava ...``) from its plugin (runstrong_sync.sources). `--help`
    lists them from their short help without importing any."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(COMMAND_MODULES) | set(_connector_commands()))

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        """Before the command's modules load, the plugins' early steps for it (``prepare`` in
        runstrong_sync/sources.py) get its arguments: work that overlaps the loading."""
        if args and args[0] in COMMAND_MODULES and not ctx.resilient_parsing:
            handles = sources.prepare(args[0], args[1:])
            if handles:
                ctx.meta[sources.PREPARED] = handles
                ctx.call_on_close(lambda: _close_all(handles))
        return super().resolve_command(ctx, args)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        reference = _connector_commands().get(cmd_name) if cmd_name not in COMMAND_MODULES else None
        if cmd_name in COMMAND_MODULES:
            load_command_modules([cmd_name])
        elif reference is not None and cmd_name not in self.commands:
            command = sources.load_reference(reference)
            if not isinstance(command, click.Command):
                raise TypeError(f"{reference} is not a click command")
            self.add_command(command, cmd_name)
        elif cmd_name not in self.commands:
            load_command_modules()  # a command registered by a module without an entry above
        if STARTING.is_set():
            STARTING.clear()
            gc.freeze()  # what start-up built lives to the end: later collections skip it
            gc.enable()
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from the short help above and the plugins', importing no command."""
        names = self.list_commands(ctx)
        if not names:
            return
        lazy = {name: help_text for name, (_, help_text) in _connector_commands_with_help().items()}
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            short = SHORT_HELP.get(name) or lazy.get(name, "")
            command = self.commands.get(name) or click.Command(name, short_help=short)
            if not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _close_all(handles: dict[str, sources.Prepared]) -> None:
    for handle in handles.values():
        handle.close()


def prepared(ctx: click.Context) -> dict[str, sources.Prepared]:
    """The handles the plugins' early steps made for the running command (connector name -> handle)."""
    return dict(ctx.meta.get(sources.PREPARED) or {})


def _connector_commands_with_help() -> dict[str, tuple[str, str]]:
    """Every command a connector contributes: name -> ("module:attribute", short help)."""
    found: dict[str, tuple[str, str]] = {}
    for name, plugin in sources.plugins().items():
        if plugin.cli:
            found[name] = (plugin.cli, plugin.cli_help)
        found.update(plugin.commands)
    return found


def _connector_commands() -> dict[str, str]:
    return {name: reference for name, (reference, _) in _connector_commands_with_help().items()}


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
