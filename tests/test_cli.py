"""Every command answers --help; errors become one message and a documented exit status."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from runstrong_sync.cli import cli
from runstrong_sync.errors import ExitStatus
from tests.support import run_cli, run_main


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None
        found.append((*prefix, name))
        if isinstance(command, click.Group):
            found += _commands(command, (*prefix, name))
    return found


@pytest.mark.parametrize("path", _commands(cli))
def test_every_command_has_help(path: tuple[str, ...]) -> None:
    result = run_cli(*path, "--help")
    assert result.exit_code == 0
    assert "Usage:" in result.output


def test_bad_config_is_one_message_not_a_traceback(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[planner]\nmax_sessions = 9\n", encoding="utf-8")
    result = run_main("--config", str(config), "activities")
    assert result.returncode == ExitStatus.CONFIG
    assert "planner.max_sessions" in result.stderr and str(config) in result.stderr
    assert "Traceback" not in result.stderr


def test_unreadable_database_is_one_message(tmp_path: Path, env: Path) -> None:
    result = run_main("activities", env={"RUNSTRONG_DATABASE_URL": "nosuchdialect://x"})
    assert result.returncode == ExitStatus.DATABASE, result.stderr
    assert "nosuchdialect" in result.stderr and "Traceback" not in result.stderr
    not_a_db = tmp_path / "text.sqlite"
    not_a_db.write_text("hello, I am not a database" * 100, encoding="utf-8")
    result = run_main("activities", env={"RUNSTRONG_DATABASE_URL": f"sqlite:///{not_a_db}"})
    assert result.returncode == ExitStatus.DATABASE, result.stderr
    assert str(not_a_db) in result.stderr and "Traceback" not in result.stderr


def test_bad_today_is_a_clear_message(env: Path) -> None:
    result = run_main("--today", "25/11/2026", "plan")
    assert result.returncode == ExitStatus.USAGE  # a wrong option value is wrong usage
    assert "--today" in result.stderr


def test_tests_run_in_a_private_home(private_home: Path, tmp_path: Path) -> None:
    """HOME and XDG_* point into the test run's temporary folder, so nothing (the config, the
    data dir, sync.lock) can be written into the real user's folders, here or in a subprocess."""
    import os

    from runstrong_sync.config import default_config_path, default_data_dir

    base = tmp_path.parent  # pytest's base temporary folder of this run
    assert private_home.is_relative_to(base)
    assert Path(os.environ["HOME"]) == private_home and Path("~").expanduser() == private_home
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        assert Path(os.environ[name]).is_relative_to(private_home), name
    assert default_data_dir().is_relative_to(private_home)
    assert default_config_path().is_relative_to(private_home)
    child = run_main("status", "--json", env={"RUNSTRONG_CONFIG": ""})
    assert child.returncode == 0, child.stderr
    assert str(private_home) in child.stdout  # the database the child used is in the private home
