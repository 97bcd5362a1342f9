"""The nightly steps read only the window they work on, and give what reading everything gave."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, update

from runstrong_sync import labelling, pipeline, planning
from runstrong_sync.config import Config
from runstrong_sync.storage.db import Database, open_database
from runstrong_sync.storage.models import ActivityRow, SessionRow
from tests.support import FIXTURES

NOW = datetime(2026, 11, 24, 3, 30, tzinfo=ZoneInfo("Europe/Berlin"))


def _history(tmp_path: Path) -> tuple[Config, Database, int]:
    config = Config.model_validate(
        {
            "athlete": {"time_zone": "Europe/Berlin"},
            "data_dir": str(tmp_path),
            "sources": {"fit": {"enabled": False}},
        }
    )
    db = open_database(config.database_url)
    athlete = pipeline.athlete_id(db, config, NOW)
    pipeline.import_paths(db, athlete, config, [FIXTURES / "demo"], NOW)
    columns = [c.key for c in ActivityRow.__table__.columns if c.key != "id"]
    with db.transaction() as session:
        rows = session.scalars(select(ActivityRow)).all()
        originals = [{c: getattr(row, c) for c in columns} for row in rows]
        copies: list[dict[str, Any]] = []
        for shift in range(6, 60, 6):  # a year of the demo's six weeks, older and older
            for template in originals:
                row = dict(template, start_utc=template["start_utc"] - timedelta(weeks=shift))
                row["external_id"] = f"{template['external_id']}#{shift}"
                copies.append(row)
        session.execute(insert(ActivityRow), copies)
    return config, db, athlete


def _labels(db: Database) -> dict[int, tuple[str | None, float | None]]:
    with db.transaction() as session:
        return {r.id: (r.label, r.confidence) for r in session.scalars(select(ActivityRow))}


def test_relabelling_the_window_equals_relabelling_everything(tmp_path: Path) -> None:
    config, db, athlete = _history(tmp_path)
    labelling.relabel(db, athlete, config, NOW, everything=True)
    expected = _labels(db)
    recent = NOW - timedelta(days=labelling.RELABEL_WINDOW_DAYS)
    with db.transaction() as session:
        session.execute(update(ActivityRow).where(ActivityRow.start_utc >= recent).values(label="long"))
        old = session.scalars(select(ActivityRow.id).order_by(ActivityRow.start_utc).limit(3)).all()
        session.execute(update(ActivityRow).where(ActivityRow.id.in_(old)).values(label=None))
    assert _labels(db) != expected
    changed = labelling.relabel(db, athlete, config, NOW)
    assert changed > 0
    assert _labels(db) == expected  # recent ones relabelled, the oldest unlabelled ones labelled
    db.dispose()


def test_old_sessions_stay_as_they_were(tmp_path: Path) -> None:
    config, db, athlete = _history(tmp_path)
    labelling.relabel(db, athlete, config, NOW)
    long_ago = NOW - timedelta(weeks=60)
    with db.transaction() as session:
        session.execute(
            insert(SessionRow),
            [
                {
                    "uid": "old-session@runstrong-sync",
                    "athlete_id": athlete,
                    "start_utc": long_ago,
                    "time_zone": "Europe/Berlin",
                    "duration_min": 30,
                    "kind": "full",
                    "focus_json": ["glutes"],
                    "exercises_json": [],
                    "why": "kept",
                    "status": "done",
                    "sequence": 2,
                    "changed_at": long_ago,
                    "removed": False,
                }
            ],
        )
    result, counts = planning.replan(db, athlete, config, NOW)
    assert counts["added"] > 0 and counts["removed"] == 0
    with db.transaction() as session:
        old = session.get(SessionRow, "old-session@runstrong-sync")
        assert old is not None
        assert (old.status, old.sequence, old.removed, old.why) == ("done", 2, False, "kept")
        planned = session.scalars(select(SessionRow).where(SessionRow.start_utc >= NOW)).all()
    assert {s.uid for s in result.sessions if s.start >= NOW} == {row.uid for row in planned}
    _, again = planning.replan(db, athlete, config, NOW)
    assert again["added"] == again["removed"] == again["changed"] == 0  # stable
    db.dispose()
