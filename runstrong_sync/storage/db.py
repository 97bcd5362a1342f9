"""Open the database, migrate it, and hand out transactional sessions."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
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


BATCH_UNITS = 50  # units of work (files) per commit of a batch
BATCH_SECONDS = 0.5  # ... or fewer, when they take longer to come


class Database:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._batch: Batch | None = None

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: committed together, or rolled back together.

        A batch open in this thread (``batch``) is committed first: what it stored comes before."""
        if self._batch is not None and self._batch.owner == threading.get_ident():
            self._batch.commit()
        session = self._sessions()
        try:
            yield session
            session.commit()
        except OperationalError as exc:
            session.rollback()
            raise self.write_error(exc) from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def write_error(self, exc: OperationalError) -> DatabaseError:
        return DatabaseError(
            f"The database {self.url} could not be written: {exc.orig}.",
            ["If another program holds it locked, try again when it has finished."],
        )

    @contextmanager
    def batch(self, size: int = BATCH_UNITS, seconds: float = BATCH_SECONDS) -> Iterator[Batch]:
        """Units of work (``Batch.unit``) committed together every ``size`` units or ``seconds``;
        at the end, and on the way out of an error, what was stored whole is committed."""
        batch = Batch(self, size, seconds)
        previous, self._batch = self._batch, batch
        try:
            yield batch
        except BaseException:
            batch.commit_or_rollback()
            raise
        else:
            batch.commit()
        finally:
            self._batch = previous

    def _begin(self) -> Session:
        session = self._sessions()
        if self.engine.dialect.name == "sqlite":
            # The sqlite3 module starts a transaction only at the first write, and a SAVEPOINT
            # outside one would commit on release: begin it here, holding the write lock.
            session.connection().exec_driver_sql("BEGIN IMMEDIATE")
        return session

    def dispose(self) -> None:
        self.engine.dispose()


class Batch:
    """Units of work stored in one transaction, each in a savepoint of its own: one that fails is
    rolled back alone, and the others stay. The transaction is committed every ``size`` units or
    ``seconds`` (then each unit's ``after_commit`` hook runs: archive its file, advance a cursor),
    and whenever this thread opens another transaction on the database. A crash loses what was
    stored since the last commit; those units' inputs are where they were (their hooks have not
    run), so the next run reads and stores them again. A ``size`` of 1 is a transaction per unit."""

    def __init__(self, db: Database, size: int, seconds: float, clock: Callable[[], float] = time.monotonic):
        self.db = db
        self.size = max(1, size)
        self.seconds = seconds
        self.owner = threading.get_ident()
        self._clock = clock
        self._session: Session | None = None
        self._started = 0.0
        self._units = 0
        self._hooks: list[Callable[[], None]] = []

    @contextmanager
    def unit(self) -> Iterator[Session]:
        """One unit of work: stored whole (in the batch's transaction), or rolled back alone."""
        if self.size == 1:
            with self.db.transaction() as session:
                yield session
            return
        if self._session is None:
            try:
                self._session = self.db._begin()
            except OperationalError as exc:
                raise self.db.write_error(exc) from exc
            self._started = self._clock()
        try:
            with self._session.begin_nested():
                yield self._session
        except OperationalError as exc:
            raise self.db.write_error(exc) from exc

    def then(self, hook: Callable[[], None] | None) -> None:
        """A unit is done: ``hook`` runs once it is committed; the batch commits when it is due."""
        if hook is not None:
            self._hooks.append(hook)
        self._units += 1
        if self._session is None or self._units >= self.size or self._clock() - self._started >= self.seconds:
            self.commit()

    def commit(self) -> None:
        """Commit what is stored, then run the hooks of its units in order."""
        session, self._session = self._session, None
        self._units = 0
        if session is not None:
            try:
                session.commit()
            except OperationalError as exc:
                session.rollback()
                self._hooks.clear()
                raise self.db.write_error(exc) from exc
            except BaseException:
                session.rollback()
                self._hooks.clear()
                raise
            finally:
                session.close()
        hooks, self._hooks = self._hooks, []
        for hook in hooks:
            hook()

    def commit_or_rollback(self) -> None:
        """On the way out of an error: keep the units stored whole, unless the database refuses."""
        try:
            self.commit()
        except Exception:
            self._hooks.clear()


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
    from runstrong_sync.storage.models import Base, declare_partial_indexes

    declare_partial_indexes()  # the migrations make them too
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
