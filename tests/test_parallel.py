"""Parallel parsing: results in input order, the same as one process, and a fallback when workers fail."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from zoneinfo import ZoneInfo

from runstrong_sync.connectors.intake import PARALLEL_MIN_FILES, WorkItem, parse_all

from tests.support import FIT, ROOT

ZONE = ZoneInfo("Europe/Berlin")
FILES = (
    "running/run_with_coordinates.fit",
    "running_edge/garmin-fenix-5-run.fit",
    "corrupt/activity-filecrc.fit",
    "gpx_tcx/test.tcx",
    "other_sports/Settings.fit",
    "running_edge/antfs-dump.63.fit",
)
NOT_ACTIVITIES = {"corrupt/activity-filecrc.fit", "other_sports/Settings.fit"}


def _activities_among(count: int) -> int:
    return sum(FILES[i % len(FILES)] not in NOT_ACTIVITIES for i in range(count))


def _items(folder: Path, count: int) -> list[WorkItem]:
    items = []
    for i in range(count):
        source = FIT / FILES[i % len(FILES)]
        target = folder / f"{i:03d}-{source.name}"
        shutil.copy(source, target)
        items.append(WorkItem(str(target), target))
    return items


def _outcome(parsed: object) -> object:
    from runstrong_sync.connectors.intake import Parsed

    assert isinstance(parsed, Parsed)
    return parsed.reason or [(a.start_utc, a.elapsed_s, a.distance_m, a.avg_hr) for a in parsed.activities]


def test_two_workers_give_what_one_process_gives_in_the_same_order(tmp_path: Path) -> None:
    items = _items(tmp_path, PARALLEL_MIN_FILES + 8)
    parallel = list(parse_all(items, ZONE, jobs=2))
    serial = list(parse_all(items, ZONE, jobs=1))
    assert [i.ref for i, _ in parallel] == [i.ref for i in items]
    assert [_outcome(p) for _, p in parallel] == [_outcome(p) for _, p in serial]
    assert sum(p.reason is None for _, p in parallel) == _activities_among(len(items))


def test_workers_started_early_are_the_ones_that_read_the_files(tmp_path: Path) -> None:
    from runstrong_sync.connectors.workers import Workers, prepare_import

    from runstrong_sync import sources

    (tmp_path / "few").mkdir()
    few = _items(tmp_path / "few", 2)
    assert prepare_import([str(tmp_path / "few"), "--jobs", "2"]) is None  # two files: read here
    items = _items(tmp_path, PARALLEL_MIN_FILES)
    assert sources.prepare("sync", [str(tmp_path)]) == {}  # no plugin prepares `sync`
    prepared = sources.prepare("import", [str(tmp_path), "--json", "--jobs=2"])
    early = prepared["fit"]  # the folder connector's plugin names its early step for `import`
    assert isinstance(early, Workers) and early.jobs == 2
    pool = early._pool
    assert pool is not None and len(pool._processes) == 2  # started now, before any file is handed out
    parallel = list(parse_all(items, ZONE, jobs=2, workers=early))
    assert early._pool is None and pool._processes is None  # taken, used and shut down
    early.close()  # what the command line does at the end: nothing left to stop
    assert [_outcome(p) for _, p in parallel] == [_outcome(p) for _, p in parse_all(items, ZONE, jobs=1)]
    again = prepare_import([str(tmp_path), "--jobs", "2"])
    assert again is not None
    pool = again._pool
    assert [_outcome(p) for _, p in parse_all(few, ZONE, jobs=2, workers=again)] == [
        _outcome(p) for _, p in parse_all(few, ZONE, jobs=1)
    ]
    assert again._pool is None and pool is not None and pool._shutdown_thread  # stopped, not left behind
    other = prepare_import([str(tmp_path), "--jobs", "3"])
    assert other is not None
    assert other.take(other.jobs + 1) is None  # asked for another number: stopped, a new pool is made
    other.close()


def test_the_early_step_starts_nothing_for_arguments_it_does_not_know(tmp_path: Path) -> None:
    from runstrong_sync.connectors.workers import prepare_import

    _items(tmp_path, PARALLEL_MIN_FILES)
    folder = str(tmp_path)
    assert prepare_import([folder, "--jobs", "1"]) is None
    assert prepare_import([folder, "--jobs", "x"]) is None
    assert prepare_import([folder, "--help"]) is None
    assert prepare_import([folder, "--verbose"]) is None
    assert prepare_import([str(tmp_path / "missing")]) is None


def test_without_worker_processes_the_files_are_read_here(tmp_path: Path) -> None:
    """A program read from stdin cannot start spawned workers; the import still completes."""
    script = textwrap.dedent(
        f"""
        import json, sys
        from pathlib import Path
        from zoneinfo import ZoneInfo
        sys.path[:0] = [{str(ROOT)!r}]
        from runstrong_sync.connectors.intake import parse_all
        from tests.test_parallel import _items
        folder = Path({str(tmp_path)!r})
        results = list(parse_all(_items(folder, 20), ZoneInfo("UTC"), jobs=2))
        print(json.dumps([p.reason is None for _, p in results]))
        """
    )
    done = subprocess.run(
        [sys.executable, "-"], input=script, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "cannot be started" in done.stderr
    assert sum(json.loads(done.stdout.strip().splitlines()[-1])) == _activities_among(20)


def test_the_early_step_counts_the_files_the_import_reads() -> None:
    """The early step keeps its own list of names (it loads before the readers do): the same as
    the names the readers take, so it never starts workers for files the import skips, or the
    other way round."""
    from runstrong_sync.connectors.formats import FORMATS, format_of
    from runstrong_sync.connectors.workers import NAME_SUFFIXES

    readable = {f".{kind}{gz}" for kind in FORMATS for gz in ("", ".gz")} | {".zip"}
    assert set(NAME_SUFFIXES) == readable
    assert all(format_of("a" + suffix.upper()) is not None for suffix in NAME_SUFFIXES)
