"""A "leave" inbox: files imported before are recognised by size, time and hash, not decoded again."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

from runstrong_sync import pipeline
from runstrong_sync.config import Config
from runstrong_sync.storage import repo
from runstrong_sync.storage.db import open_database
from tests.support import FIT

NOW = datetime(2026, 11, 24, 3, 30, tzinfo=UTC)


def _fit_report(config: Config) -> pipeline.SourceReport:
    db = open_database(config.database_url)
    try:
        report = pipeline.sync(config, db, now=NOW)
    finally:
        db.dispose()
    (fit,) = [s for s in report.sources if s.name == "fit"]
    return fit


def test_known_files_are_not_read_again(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    config = Config.model_validate(
        {
            "data_dir": str(tmp_path / "data"),
            "sources": {"fit": {"inbox": str(inbox), "settle_seconds": 0, "after_import": "leave"}},
        }
    )
    shutil.copy(FIT / "running/run_with_coordinates.fit", inbox / "a.fit")
    shutil.copy(FIT / "synthetic/synthetic_easy.fit", inbox / "b.fit")
    first = _fit_report(config)
    assert (first.created, first.duplicates) == (2, 0)

    again = _fit_report(config)
    assert (again.created, again.updated, again.duplicates) == (0, 0, 0)  # not even read

    os.utime(inbox / "a.fit", ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    touched = _fit_report(config)  # same bytes, other time: the hash says it is known
    assert (touched.created, touched.duplicates) == (0, 0)

    shutil.copy(FIT / "synthetic/synthetic_intervals.fit", inbox / "b.fit")  # other content, same name
    (inbox / "b.fit").touch()
    changed = _fit_report(config)
    assert changed.created + changed.updated + changed.duplicates == 1  # read again

    (inbox / "a.fit").unlink()
    _fit_report(config)
    db = open_database(config.database_url)
    with db.transaction() as session:
        state = repo.get_state(session, pipeline.athlete_id(db, config, NOW), "fit_inbox_known")
    db.dispose()
    assert state is not None and sorted(Path(name).name for name in state["files"]) == ["b.fit"]


def test_a_damaged_file_is_refused_after_one_decoding() -> None:
    """The fast decoder read every message, so fitparse's verdict (a CRC mismatch) is given
    without decoding the file a second time: the error comes from the fast decoder itself."""
    import pytest
    from runstrong_sync.connectors.fitfast import FitFastVerdictError, read_fit
    from runstrong_sync.connectors.fitreader import FitReadError, read_fit_fitparse

    data = (FIT / "corrupt/activity-filecrc.fit").read_bytes()
    with pytest.raises(FitReadError) as fast:
        read_fit(data)
    assert isinstance(fast.value.__cause__, FitFastVerdictError)
    with pytest.raises(FitReadError) as reference:
        read_fit_fitparse(data)
    assert str(fast.value) == str(reference.value)  # the same message, word for word
