"""Relabelling from stored numbers vs importing: how much cheaper is `runstrong-sync reclassify`?

    python bench/relabel.py [--rows 10000] [--files DIR ...]

1. Imports the FIT files (default: fixtures/labelled*, fixtures/fit/running* and
   fixtures/fit/synthetic) into a fresh SQLite database with `pipeline.import_paths`, timed:
   the baseline, per file.
2. Replicates the stored activity rows with new ids, identities and start days until the
   database holds ``--rows`` activities (a real SQLite file, as `sync` leaves it).
3. Times `labelling.relabel(everything=True)` over all of them (zones resolved, history built,
   every activity classified and its label written back), twice: a first pass that writes every
   label, and a second after a zone change.

Prints the figures and the ratio relabel-time / estimated-import-time for the same number of
activities (import time per file x rows). Both are measured in the same run on the same machine.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from runstrong_sync.connectors.formats import format_of  # noqa: E402
from sqlalchemy import func, insert, select  # noqa: E402

from runstrong_sync import labelling, pipeline  # noqa: E402
from runstrong_sync.config import Config  # noqa: E402
from runstrong_sync.storage.db import open_database  # noqa: E402
from runstrong_sync.storage.models import ActivityRow  # noqa: E402

DEFAULT_FOLDERS = (
    ROOT / "fixtures" / "labelled",
    ROOT / "fixtures" / "labelled_edge",
    ROOT / "fixtures" / "fit" / "running",
    ROOT / "fixtures" / "fit" / "running_edge",
    ROOT / "fixtures" / "fit" / "synthetic",
)


def _config(folder: Path, threshold_hr: int) -> Config:
    return Config.model_validate(
        {
            "athlete": {"time_zone": "Europe/Berlin", "threshold_hr": threshold_hr, "max_hr": 190},
            "data_dir": str(folder),
            "database": {"url": f"sqlite:///{folder / 'bench.sqlite'}"},
            "feed": {"path": str(folder / "bench.ics")},
            "sources": {"fit": {"enabled": False}},
        }
    )


def _replicate(db_url: str, athlete: int, rows: int) -> int:
    """Copy the stored activities with new ids until there are ``rows``; returns the count."""
    db = open_database(db_url)
    columns = [c.key for c in ActivityRow.__table__.columns if c.key != "id"]
    with db.transaction() as session:
        originals = session.scalars(select(ActivityRow).where(ActivityRow.athlete_id == athlete)).all()
        templates = [{c: getattr(row, c) for c in columns} for row in originals]
        have = len(templates)
        batch: list[dict[str, object]] = []
        copy = 0
        while have + len(batch) < rows:
            template = dict(templates[copy % len(templates)])
            day = copy // len(templates) + 1
            template["external_id"] = f"{template['external_id']}#copy{copy}"
            start = template["start_utc"]
            assert isinstance(start, datetime)
            template["start_utc"] = start + timedelta(days=day)
            template["label"] = None
            batch.append(template)
            copy += 1
        if batch:
            session.execute(insert(ActivityRow), batch)
        count = session.scalar(select(func.count()).select_from(ActivityRow)) or 0
    db.dispose()
    return int(count)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--files", type=Path, nargs="*", default=[p for p in DEFAULT_FOLDERS if p.is_dir()])
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        inbox = work / "inbox"
        inbox.mkdir()
        files = 0
        for folder in args.files:
            for path in sorted(folder.rglob("*")):
                if path.is_file() and format_of(path.name) == "fit":
                    shutil.copy(path, inbox / f"{files:04d}-{path.name}")
                    files += 1
        config = _config(work, 170)
        db = open_database(config.database.url)
        now = datetime(2026, 1, 1, tzinfo=UTC)
        athlete = pipeline.athlete_id(db, config, now)

        started = time.perf_counter()
        report = pipeline.import_paths(db, athlete, config, [inbox], now)
        import_s = time.perf_counter() - started
        imported = report.created + report.updated
        db.dispose()
        per_file = import_s / files
        print(
            f"import: {files} FIT files ({imported} activities stored) in {import_s:.2f} s, "
            f"{per_file * 1000:.1f} ms per file"
        )

        total = _replicate(config.database.url, athlete, args.rows)
        db = open_database(config.database.url)
        timings = []
        for threshold in (170, 160):
            started = time.perf_counter()
            changed = labelling.relabel(db, athlete, _config(work, threshold), now, everything=True)
            timings.append(time.perf_counter() - started)
            print(
                f"relabel (threshold HR {threshold}): {total} stored activities in {timings[-1]:.2f} s, "
                f"{changed} labels changed, {timings[-1] / total * 1000:.2f} ms per activity"
            )
        db.dispose()
        estimated_import = per_file * total
        best = min(timings)
        print(
            f"importing {total} activities would take about {estimated_import:.0f} s at the measured rate; "
            f"relabelling them takes {best:.2f} s: ratio {best / estimated_import:.4f} "
            f"({estimated_import / best:.0f}x faster)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
