"""The `runstrong-sync` command line: one group, one error handler, commands in submodules."""

from __future__ import annotations

import gc
import sys

import click

from runstrong_sync.cli.group import COMMAND_MODULES, SHORT_HELP, STARTING, cli
from runstrong_sync.errors import ExitStatus, RunstrongError

__all__ = ["COMMAND_MODULES", "SHORT_HELP", "cli", "main"]


def main(argv: list[str] | None = None) -> None:
    """Entry point: the single place where errors become messages and exit statuses."""
    args = _verbose_first(list(sys.argv[1:] if argv is None else argv))
    verbose = bool(args) and args[0] == "-v"
    gc.disable()  # no collections while the command's modules load (see LazyGroup.get_command)
    STARTING.set()
    try:
        status = cli.main(args=args, prog_name="runstrong-sync", standalone_mode=False)
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
        STARTING.clear()
        gc.enable()
    sys.exit(int(status) if isinstance(status, int) else 0)


def _verbose_first(args: list[str]) -> list[str]:
    """`-v` is a global option; people also type it after the command (`sync -v`): move it
    to the front so both forms work. Nothing after `--` is touched."""
    end = args.index("--") if "--" in args else len(args)
    flags = [a for a in args[:end] if a in ("-v", "--verbose")]
    if not flags:
        return args
    rest = [a for a in args[:end] if a not in ("-v", "--verbose")]
    return ["-v", *rest, *args[end:]]
