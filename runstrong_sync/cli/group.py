"""The `runstrong-sync` group: global options, and the connectors' command groups mounted by name."""

from __future__ import annotations

from pathlib import Path

import click

from runstrong_sync import sources
from runstrong_sync.cli.app import App, parse_today, setup_logging, today_from_env
from runstrong_sync.privacy import set_private_umask


class LazyGroup(click.Group):
    """Each connector's command group (``runstrong-sync strava ...``) is mounted by name from its
    plugin (runstrong_sync.sources) and imported only when named: stravalib alone takes about a
    second, which `sync`, cron, the tests and ``--help`` do not pay."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(_connector_commands()))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        reference = _connector_commands().get(cmd_name)
        if reference is not None and cmd_name not in self.commands:
            command = sources.load_reference(reference)
            if not isinstance(command, click.Command):
                raise TypeError(f"{reference} is not a click command")
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The list of commands, with the connectors' help from their plugins, unloaded."""
        lazy = {name: help_text for name, (_, help_text) in _connector_commands_with_help().items()}
        rows = []
        for name in self.list_commands(ctx):
            if name in lazy and name not in self.commands:
                rows.append((name, lazy[name]))
                continue
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(formatter.width - 6 - len(name))))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


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
