"""Commands load only what they use; the schema check needs no Alembic when nothing is to do."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click

from runstrong_sync.cli import COMMAND_MODULES, SHORT_HELP, cli
from runstrong_sync.sources import plugins
from runstrong_sync.storage import db as database
from tests.support import run_cli

HEAVY = ("stravalib", "sqlalchemy", "alembic", "watchdog", "fitparse", "icalendar", "requests")


def _modules_after(argv: list[str], env_dir: Path) -> set[str]:
    code = (
        "import sys\n"
        "from runstrong_sync.cli import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"RUNSTRONG_CONFIG": str(env_dir / "none.toml"), "PATH": "/usr/bin:/bin"},
    )
    return set(result.stdout.split("\n"))


def test_help_imports_no_heavy_module(tmp_path: Path) -> None:
    loaded = _modules_after(["--help"], tmp_path)
    assert "click" in loaded  # the listing really ran
    heavy = sorted(m for m in loaded if m.split(".")[0] in HEAVY)
    assert heavy == []


def test_help_loads_neither_the_configuration_nor_rich(tmp_path: Path) -> None:
    loaded = _modules_after(["--help"], tmp_path)
    assert "runstrong_sync.cli.group" in loaded
    assert not {m for m in loaded if m == "runstrong_sync.config" or m.split(".")[0] == "rich"}


def test_a_command_help_imports_only_its_module(tmp_path: Path) -> None:
    loaded = _modules_after(["activities", "--help"], tmp_path)
    assert "runstrong_sync.cli.listing" in loaded and "runstrong_sync.cli.core" not in loaded
    assert not {m for m in loaded if m.split(".")[0] in ("stravalib", "alembic", "watchdog")}


def test_help_lists_every_command_with_its_own_short_help() -> None:
    ctx = click.Context(cli)
    for name in COMMAND_MODULES:
        command = cli.get_command(ctx, name)
        assert command is not None, name
        assert command.get_short_help_str(limit=1000) == SHORT_HELP[name], name
    from_plugins = {name for name, found in plugins().items() if found.cli}
    from_plugins |= {name for found in plugins().values() for name in found.commands}
    # no command of our own missing from the table (connectors' commands come from their plugins)
    assert sorted(set(cli.commands) - from_plugins) == sorted(COMMAND_MODULES)
    listing = run_cli("--help").output
    for name in [*COMMAND_MODULES, *from_plugins]:
        assert f"  {name} " in listing


def test_head_revision_read_from_the_files_is_alembics() -> None:
    from alembic.script import ScriptDirectory

    config = database.alembic_config(database.create_engine("sqlite://"))
    assert database.head_revision() == ScriptDirectory.from_config(config).get_current_head()


def test_head_revision_of_branching_files(tmp_path: Path) -> None:
    def write(name: str, revision: str, down: str) -> None:
        (tmp_path / f"{name}.py").write_text(
            f'"""x"""\nrevision = "{revision}"\ndown_revision{down}\n', encoding="utf-8"
        )

    write("a", "0001", " = None")
    write("b", "0002_x", ': str | None = "0001"')
    write("c", "0003_y", ' = "0002_x"')
    assert database.head_revision(tmp_path) == "0003_y"
    write("d", "0003_z", ' = "0002_x"')
    assert database.head_revision(tmp_path) is None  # two heads: Alembic decides
    write("e", "0004_merge", ' = ("0003_y", "0003_z")')
    assert database.head_revision(tmp_path) == "0004_merge"


def test_current_schema_is_checked_without_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    database.open_database(url).dispose()  # creates and migrates
    code = (
        "import sys\n"
        "from runstrong_sync.storage.db import open_database\n"
        f"open_database({url!r}).dispose()\n"
        "print('alembic' in sys.modules)\n"
    )
    check = [sys.executable, "-c", code]
    assert subprocess.run(check, capture_output=True, text=True, check=True).stdout.strip() == "False"
    from alembic import command

    engine = database.create_engine(url)
    config = database.alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "-1")
    assert not database.schema_is_current(engine)
    assert subprocess.run(check, capture_output=True, text=True, check=True).stdout.strip() == "True"
    assert database.schema_is_current(engine)  # an older schema is brought up to date
    engine.dispose()


PARTIAL_INDEXES = """
import sys
import runstrong_sync.storage.models as models
assert not [m for m in sys.modules if m.startswith("sqlalchemy.dialects.")], "a dialect was loaded"
models.declare_partial_indexes()
models.declare_partial_indexes()  # once only
found = [i for t in models.Base.metadata.tables.values() for i in t.indexes]
partial = {i.name: i for i in found if i.dialect_options["sqlite"]["where"] is not None}
assert sorted(partial) == ["ix_activities_unlabelled", "ix_sync_runs_running"], found
assert partial["ix_activities_unlabelled"].table.name == "activities"
assert partial["ix_sync_runs_running"].table.name == "sync_runs"
assert all(i.dialect_options["postgresql"]["where"] is not None for i in partial.values())
assert len(found) == len({i.name for i in found})
"""


def test_models_load_no_database_dialect_and_the_migrations_see_the_partial_indexes() -> None:
    subprocess.run([sys.executable, "-c", PARTIAL_INDEXES], check=True)
