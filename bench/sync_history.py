"""Does the nightly sync cost more as the history grows? CPU of `sync` with 1 and 10 years stored.

    python bench/sync_history.py [--quick] [--years 1 10] [--repeat 5]

For each history length, in a temporary folder: imports the demo's six weeks of FIT files, then
copies those activities (with their labels) back in time until the database holds that many years
of runs, with three strength sessions a week and a night's sync runs for every day in between, as
years of nightly syncs leave them. Then times `pipeline.sync` in this process (CPU seconds, the
median of --repeat runs): with 0 new files in the inbox, and with 1 new FIT file (a different
one each time), with after_import "archive" and, for the 0-file case, also with "leave" (the inbox
keeping every file it ever had: 30 of them here). Prints each figure and the ratio of the longest
history to the shortest (goal: at most 1.1).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select  # noqa: E402

from runstrong_sync import pipeline  # noqa: E402
from runstrong_sync.config import Config  # noqa: E402
from runstrong_sync.storage import repo  # noqa: E402
from runstrong_sync.storage.db import open_database  # noqa: E402
from runstrong_sync.storage.models import ActivityRow, SessionRow, SyncRunRow  # noqa: E402

ZONE = ZoneInfo("Europe/Berlin")
DEMO = ROOT / "fixtures" / "demo"
NEW_FILES = sorted((ROOT / "fixtures" / "fit" / "running").glob("*.fit"))
NOW = datetime(2026, 11, 24, 3, 30, tzinfo=ZONE)


def make_config(folder: Path, after_import: str) -> Config:
    return Config.model_validate(
        {
            "athlete": {"time_zone": "Europe/Berlin", "threshold_hr": 168, "max_hr": 188},
            "data_dir": str(folder),
            "database": {"url": f"sqlite:///{folder / 'history.sqlite'}"},
            "feed": {"path": str(folder / "feed.ics"), "runs_feed": True},
            "sources": {"fit": {"inbox": str(folder / "inbox"), "after_import": after_import}},
        }
    )


def _copies(originals: list[dict[str, Any]], weeks: int) -> list[dict[str, Any]]:
    out = []
    for shift in range(6, weeks, 6):
        for template in originals:
            row = dict(template)
            row["start_utc"] = template["start_utc"] - timedelta(weeks=shift)
            row["external_id"] = f"{template['external_id']}#{shift}"
            row["source_ref"] = f"{template['source_ref']}#{shift}"
            out.append(row)
    return out


def build_history(folder: Path, years: int, after_import: str) -> Config:
    config = make_config(folder, after_import)
    (folder / "inbox").mkdir(parents=True)
    db = open_database(config.database_url)
    athlete = pipeline.athlete_id(db, config, NOW)
    pipeline.import_paths(db, athlete, config, [DEMO], NOW)
    pipeline.sync(config, db, now=NOW, sources=[])
    weeks = years * 52
    columns = [c.key for c in ActivityRow.__table__.columns if c.key != "id"]
    with db.transaction() as session:
        rows = session.scalars(select(ActivityRow).where(ActivityRow.athlete_id == athlete)).all()
        originals = [{c: getattr(row, c) for c in columns} for row in rows]
        session.execute(insert(ActivityRow), _copies(originals, weeks))
        sessions = []
        for week in range(1, weeks):
            monday = NOW - timedelta(weeks=week, days=NOW.weekday())
            for day in (0, 2, 4):
                start = (monday + timedelta(days=day)).replace(hour=18, minute=30)
                sessions.append(
                    {
                        "uid": f"history-{start.date().isoformat()}@runstrong-sync",
                        "athlete_id": athlete,
                        "start_utc": start,
                        "time_zone": "Europe/Berlin",
                        "duration_min": 30,
                        "kind": "full",
                        "focus_json": ["glutes"],
                        "exercises_json": [],
                        "why": "history",
                        "status": "done",
                        "sequence": 0,
                        "changed_at": start,
                        "removed": False,
                    }
                )
        session.execute(insert(SessionRow), sessions)
        runs = []
        for day in range(1, weeks * 7):
            started = NOW - timedelta(days=day)
            for source in ("pipeline", "fit"):
                runs.append(
                    {
                        "athlete_id": athlete,
                        "source": source,
                        "started_at": started,
                        "finished_at": started + timedelta(seconds=2),
                        "outcome": "ok",
                        "summary_json": {},
                    }
                )
        session.execute(insert(SyncRunRow), runs)
    if after_import == "leave":  # files a "leave" inbox still holds from earlier nights
        for path in sorted(DEMO.glob("*.fit")):
            shutil.copy(path, folder / "inbox" / path.name)
        pipeline.sync(config, db, now=NOW)  # recognised as known (duplicates), as on any night
    db.dispose()
    return config


def timed_sync(config: Config, new_file: Path | None) -> float:
    db = open_database(config.database_url)
    if new_file is not None:
        shutil.copy(new_file, Path(str(config.sources.fit.inbox)) / new_file.name)
    started = time.process_time()
    report = pipeline.sync(config, db, now=NOW)
    elapsed = time.process_time() - started
    assert not report.errors, report.errors
    db.dispose()
    return elapsed


def measure(years: int, repeat: int, after_import: str, new: bool) -> float:
    with tempfile.TemporaryDirectory(prefix="runstrong-history-") as name:
        config = build_history(Path(name), years, after_import)
        db = open_database(config.database_url)
        with db.transaction() as session:
            stored = len(repo.activity_rows(session, pipeline.athlete_id(db, config, NOW)))
        db.dispose()
        timed_sync(config, None)  # warm: zone rules, caches, the first plan of the day
        figures = [timed_sync(config, NEW_FILES[i] if new else None) for i in range(repeat)]
    seconds = statistics.median(figures)
    print(
        f"  {years:>2} year(s), {stored:>5} activities, {'1 new file ' if new else '0 new files'} "
        f"({after_import}): {seconds * 1000:7.1f} ms CPU",
        flush=True,
    )
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="3 runs per figure, 1 and 10 years only")
    parser.add_argument("--years", type=int, nargs="+", default=[1, 5, 10])
    parser.add_argument("--repeat", type=int, default=None)
    args = parser.parse_args()
    years = [1, 10] if args.quick else sorted(args.years)
    repeat = args.repeat or (3 if args.quick else 5)
    cases = [("archive", False), ("archive", True), ("leave", False)]
    ratios = []
    for after_import, new in cases:
        figures = {y: measure(y, repeat, after_import, new) for y in years}
        longest, shortest = figures[years[-1]], figures[years[0]]
        ratios.append(
            f"  {'1 new file ' if new else '0 new files'} ({after_import}): "
            f"{years[-1]} years / {years[0]} year = {longest / shortest:.2f}"
        )
    print(f"Sync CPU, longest history / shortest, same run (goal: at most 1.1); {datetime.now(UTC):%H:%M}")
    print("\n".join(ratios))


if __name__ == "__main__":
    main()
