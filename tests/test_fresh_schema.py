"""A new database is made from the models in one go: the same schema as running every migration."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from alembic import command
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.engine import make_url

from runstrong_sync.storage.db import (
    alembic_config,
    create_schema,
    head_revision,
    open_database,
    upgrade,
)


def _schema(engine: Engine) -> dict[str, Any]:
    """Every table's columns, keys, indexes and constraints, as the database reports them."""
    found = inspect(engine)
    schema: dict[str, Any] = {}
    for table in sorted(found.get_table_names()):
        columns = sorted(
            (c["name"], str(c["type"]), c["nullable"], str(c.get("default")), bool(c.get("autoincrement")))
            for c in found.get_columns(table)
        )
        foreign = sorted(
            (
                tuple(f["constrained_columns"]),
                f["referred_table"],
                tuple(f["referred_columns"]),
                tuple(sorted((f.get("options") or {}).items())),
            )
            for f in found.get_foreign_keys(table)
        )
        indexes = sorted(
            (i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in found.get_indexes(table)
        )
        uniques = sorted(
            (u["name"] or "", tuple(u["column_names"])) for u in found.get_unique_constraints(table)
        )
        checks = sorted((c["name"] or "", c["sqltext"]) for c in found.get_check_constraints(table))
        primary = found.get_pk_constraint(table)["constrained_columns"]
        schema[table] = {
            "columns": columns,
            "primary": primary,
            "foreign": foreign,
            "indexes": indexes,
            "uniques": uniques,
            "checks": checks,
        }
    return schema


def _second_database(url: str) -> tuple[str, Engine | None]:
    """Another empty database beside ``url``: a second SQLite file, or a second PostgreSQL database."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return url.replace(".sqlite", "-migrated.sqlite"), None
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    name = f"{parsed.database}_migrated"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    return parsed.set(database=name).render_as_string(hide_password=False), admin


def test_a_new_database_gets_the_schema_every_migration_makes(database_url: str) -> None:
    created = open_database(database_url)  # empty: made from the models, stamped at the newest migration
    other_url, admin = _second_database(database_url)
    migrated = create_engine(other_url)
    try:
        upgrade(migrated)  # every migration in turn
        assert _schema(created.engine) == _schema(migrated)
        for engine in (created.engine, migrated):
            with engine.connect() as connection:
                versions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
            assert versions == [head_revision()]
    finally:
        created.dispose()
        migrated.dispose()
        if admin is not None:
            with admin.connect() as connection:
                name = make_url(other_url).database
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


def test_a_created_schema_goes_down_and_up_by_the_migrations(database_url: str) -> None:
    db = open_database(database_url)
    config = alembic_config(db.engine)
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0002_ops")
    db.dispose()
    db = open_database(database_url)  # tables there: the migrations bring it up, nothing is created
    with db.engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == head_revision()
    db.dispose()


def test_a_database_with_tables_is_never_created_over(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/old.sqlite"
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))
        connection.execute(text("INSERT INTO notes (body) VALUES ('kept')"))
    assert create_schema(engine) is False
    assert inspect(engine).get_table_names() == ["notes"]
    engine.dispose()


def test_a_database_made_in_a_new_process_has_the_partial_indexes(tmp_path: Path) -> None:
    """Commands leave the partial indexes undeclared to start faster; creating a schema declares
    them first, so a database made by any command is the one the migrations make."""
    url = f"sqlite:///{tmp_path}/new.sqlite"
    subprocess.run(
        [
            sys.executable,
            "-c",
            f"from runstrong_sync.storage.db import open_database; open_database({url!r})",
        ],
        check=True,
    )
    engine = create_engine(url)
    try:
        names = {
            index["name"]
            for table in ("activities", "sync_runs")
            for index in inspect(engine).get_indexes(table)
        }
    finally:
        engine.dispose()
    assert {"ix_activities_unlabelled", "ix_sync_runs_running"} <= names
