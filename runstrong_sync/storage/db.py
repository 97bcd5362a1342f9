"""Open the database, migrate it, and hand out transactional sessions."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from runstrong_sync.errors import DatabaseError

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

MIGRATIONS = Path(__file__).with_name("migrations")
_REVISION = re.compile(r"^revision\s*(?::[^=]*)?=\s*[\"']([^\"']+)[\"']", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision\s*(?::[^=]*)?=(.*)$", re.MULTILINE)
_QUOTED = re.compile(r"[\"']([^\"']+)[\"']")


def head_revision(versions: Path = MIGRATIONS / "versions") -> str | None:
    """The newest migration's id, read from the revision files' text without importing Alembic
    (which takes a tenth of a second). None when there is not exactly one head."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in versions.glob("*.py"):
        source = path.read_text(encoding="utf-8")
        found = _REVISION.search(source)
        if found is None:
            continue
        revisions.add(found.group(1))
        down = _DOWN_REVISION.search(source)
        if down is not None:
            parents.update(_QUOTED.findall(down.group(1)))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def schema_is_current(engine: Engine) -> bool:
    """One cheap read: is the stored schema version the newest migration?"""
    head = head_revision()
    if head is None:
        return False
    try:
        with engine.connect() as connection:
            stored = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except SQLAlchemyError:
        return False  # no version table yet: a new database
    return list(stored) == [head]


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers (the feed server) never block the sync
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_transactional_ddl(dbapi_connection: Any, record: Any) -> None:
    _sqlite_pragmas(dbapi_connection, record)
    dbapi_connection.isolation_level = None  # the sqlite3 module would commit before each DDL


def _sqlite_begin_immediate(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def migration_engine(engine: Engine) -> Engine:
    """An engine for migrations only. On SQLite it wraps a whole migration in one transaction
    (the sqlite3 module would commit each CREATE TABLE on its own), so a crash half-way through
    leaves no half-made schema. Everyday work keeps the module's own transaction handling, where
    a read does not start a write transaction that another writer could then refuse."""
    if engine.dialect.name != "sqlite":
        return engine
    ddl = create_engine(engine.url, connect_args={"timeout": 30})
    event.listen(ddl, "connect", _sqlite_transactional_ddl)
    event.listen(ddl, "begin", _sqlite_begin_immediate)
    return ddl


class Database:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: committed together, or rolled back together."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except OperationalError as exc:
            session.rollback()
            raise DatabaseError(
                f"The database {self.url} could not be written: {exc.orig}.",
                ["If another program holds it locked, try again when it has finished."],
            ) from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()


def open_database(url: str, *, migrate: bool = True) -> Database:
    try:
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            Path(url.removeprefix("sqlite:///")).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30} if url.startswith("sqlite") else {})
    except (ArgumentError, SQLAlchemyError, OSError, ImportError) as exc:
        raise DatabaseError(
            f"The database URL {url!r} cannot be used: {exc}.",
            ["Set database.url in the configuration (or RUNSTRONG_DATABASE_URL) to a SQLAlchemy URL."],
        ) from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    database = Database(engine)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        if migrate and not schema_is_current(engine) and not create_schema(engine):
            upgrade(engine)
    except OperationalError as exc:
        engine.dispose()
        raise DatabaseError(
            f"The database {database.url} cannot be opened: {exc.orig}.",
            ["Check that the file or server exists and is readable, and that the URL is right."],
        ) from exc
    except SQLAlchemyError as exc:
        engine.dispose()
        raise DatabaseError(f"The database {database.url} is not usable: {exc}.") from exc
    return database


def alembic_config(engine: Engine) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return config


VERSION_TABLE = (
    "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
    "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
)
CREATE_LOCK_KEY = 0x72756E7374726F6E  # PostgreSQL: two processes creating one new database take turns


def create_schema(engine: Engine) -> bool:
    """A database without any table gets the newest schema in one go, from the models, stamped at
    the newest migration: what running every migration in turn would make (a test compares the
    two), without replaying them. False, changing nothing, when the database holds any table (an
    older schema is upgraded by its migrations) or the migrations have no single head."""
    head = head_revision()
    if head is None:
        return False
    from runstrong_sync.storage.models import Base

    ddl = migration_engine(engine)
    try:
        with ddl.begin() as connection:  # SQLite: BEGIN IMMEDIATE, the whole schema or nothing
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CREATE_LOCK_KEY})
            if inspect(connection).get_table_names():
                return False
            Base.metadata.create_all(connection)
            connection.execute(text(VERSION_TABLE))
            connection.execute(
                text("INSERT INTO alembic_version (version_num) VALUES (:head)"), {"head": head}
            )
    finally:
        if ddl is not engine:
            ddl.dispose()
    return True


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (a no-op when it is there already)."""
    from alembic import command

    config = alembic_config(engine)
    ddl = migration_engine(engine)
    try:
        with ddl.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    finally:
        if ddl is not engine:
            ddl.dispose()


def table_names(engine: Engine) -> list[str]:
    return sorted(inspect(engine).get_table_names())
