"""Batched commits: units of work in savepoints of one transaction, committed every few units."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.exc import IntegrityError

from runstrong_sync.storage import repo
from runstrong_sync.storage.db import Database, open_database
from runstrong_sync.storage.models import RejectionRow

NOW = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)


def _reject(db: Database, athlete: int, ref: str) -> None:
    with db.batch() as batch:
        with batch.unit() as session:
            repo.add_rejection(session, athlete, "import", ref, "bad", None, NOW)
        batch.then(None)


def _stored(url: str) -> list[str]:
    """What another connection sees: only committed rows."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return list(
                connection.execute(select(RejectionRow.source_ref).order_by(RejectionRow.id)).scalars()
            )
    finally:
        engine.dispose()


def _athlete(db: Database) -> int:
    with db.transaction() as session:
        return repo.ensure_athlete(session, "default", "Runner", NOW).id


def test_units_are_committed_together_and_their_hooks_run_after_the_commit(database_url: str) -> None:
    db = open_database(database_url)
    athlete = _athlete(db)
    done: list[str] = []
    with db.batch(size=3, seconds=3600) as batch:
        for ref in ("a.fit", "b.fit"):
            with batch.unit() as session:
                repo.add_rejection(session, athlete, "import", ref, "bad", None, NOW)
            batch.then(partial(done.append, ref))
        assert _stored(database_url) == [] and done == []  # not committed yet: nothing moved
        with batch.unit() as session:
            repo.add_rejection(session, athlete, "import", "c.fit", "bad", None, NOW)
        batch.then(lambda: done.append("c.fit"))
        assert _stored(database_url) == ["a.fit", "b.fit", "c.fit"]
        assert done == ["a.fit", "b.fit", "c.fit"]
    db.dispose()


def test_a_unit_that_fails_is_rolled_back_alone(database_url: str) -> None:
    db = open_database(database_url)
    athlete = _athlete(db)
    with db.batch(size=10, seconds=3600) as batch:
        with batch.unit() as session:
            repo.add_rejection(session, athlete, "import", "kept.fit", "bad", None, NOW)
        batch.then(None)
        with pytest.raises(IntegrityError), batch.unit() as session:
            repo.add_rejection(session, athlete, "import", "half.fit", "bad", None, NOW)
            session.flush()
            repo.ensure_athlete(session, "other", "Other", NOW).feed_token = repo.feed_token(session, athlete)
            session.flush()  # the feed token is unique: this unit cannot be stored
        with batch.unit() as session:
            repo.add_rejection(session, athlete, "import", "after.fit", "bad", None, NOW)
        batch.then(None)
    assert _stored(database_url) == ["kept.fit", "after.fit"]
    db.dispose()


def test_an_error_commits_what_was_stored_whole_before_it(database_url: str) -> None:
    db = open_database(database_url)
    athlete = _athlete(db)
    done: list[str] = []
    with pytest.raises(KeyboardInterrupt), db.batch(size=10, seconds=3600) as batch:
        with batch.unit() as session:
            repo.add_rejection(session, athlete, "import", "first.fit", "bad", None, NOW)
        batch.then(lambda: done.append("first.fit"))
        with batch.unit() as session:
            repo.add_rejection(session, athlete, "import", "in-hand.fit", "bad", None, NOW)
            raise KeyboardInterrupt
    assert _stored(database_url) == ["first.fit"]
    assert done == ["first.fit"]
    db.dispose()


def test_another_transaction_of_this_thread_commits_the_batch_first(database_url: str) -> None:
    db = open_database(database_url)
    athlete = _athlete(db)
    with db.batch(size=10, seconds=3600) as batch:
        with batch.unit() as session:
            repo.add_rejection(session, athlete, "import", "a.fit", "bad", None, NOW)
        batch.then(None)
        with db.transaction() as session:  # e.g. a connector saving its state: no lock waits on the batch
            repo.set_state(session, athlete, "cursor", {"at": 1}, NOW)
            assert session.scalar(select(func.count()).select_from(RejectionRow)) == 1
        assert _stored(database_url) == ["a.fit"]
    db.dispose()


def test_a_batch_of_one_is_a_transaction_per_unit(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/one.sqlite"
    db = open_database(url)
    athlete = _athlete(db)
    _reject(db, athlete, "x.fit")
    with db.batch(size=1) as batch:
        with batch.unit() as session:
            repo.add_rejection(session, athlete, "import", "y.fit", "bad", None, NOW)
        assert _stored(url) == ["x.fit", "y.fit"]
        batch.then(None)
    db.dispose()
