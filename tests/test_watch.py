"""The watched inbox: files present at start, files copied in slowly, and bad files."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from runstrong_sync.config import Config
from runstrong_sync.pipeline import SyncReport
from runstrong_sync.storage import repo
from runstrong_sync.storage.db import Database, open_database
from runstrong_sync.watch import Arrivals, watch_inbox
from tests.support import FIT

SETTLE_S = 0.4


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


class Watching:
    def __init__(self, config: Config, db: Database) -> None:
        self.config, self.db = config, db
        self.reports: list[SyncReport] = []
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            watch_inbox(self.config, self.db, self.stop, on_report=self.reports.append)
        except BaseException as exc:
            self.error = exc

    def activities(self) -> int:
        with self.db.transaction() as session:
            return len(repo.activity_rows(session, 1))


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    return folder


@pytest.fixture
def watching(tmp_path: Path, inbox: Path) -> Iterator[Watching]:
    config = Config.model_validate(
        {
            "data_dir": str(tmp_path / "data"),
            "sources": {"fit": {"inbox": str(inbox), "settle_seconds": SETTLE_S}},
        }
    )
    db = open_database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    watcher = Watching(config, db)
    yield watcher
    watcher.stop.set()
    watcher.thread.join(timeout=30)
    assert not watcher.thread.is_alive()
    assert watcher.error is None, watcher.error
    db.dispose()


def test_files_that_arrived_while_down_are_imported_at_start(watching: Watching, inbox: Path) -> None:
    shutil.copy(FIT / "running/run_with_coordinates.fit", inbox)
    shutil.copy(FIT / "gpx_tcx/test.tcx", inbox)
    time.sleep(SETTLE_S)
    watching.thread.start()
    wait_for(lambda: watching.activities() == 2)
    wait_for(
        lambda: (
            sorted(p.name for p in (inbox / "archive").iterdir()) == ["run_with_coordinates.fit", "test.tcx"]
        )
    )


def test_a_slow_copy_is_read_only_once_complete(watching: Watching, inbox: Path) -> None:
    watching.thread.start()
    wait_for(lambda: len(watching.reports) >= 1)  # the start-up pass over the empty inbox
    data = (FIT / "running/activity-small-fenix2-run.fit").read_bytes()
    target = inbox / "copying.fit"
    with target.open("wb") as handle:
        handle.write(data[: len(data) // 2])
        handle.flush()
        time.sleep(SETTLE_S * 4)  # a stalled copy: quiet for longer than the settle time
        handle.write(data[len(data) // 2 :])
    wait_for(lambda: watching.activities() == 1)
    assert not (inbox / "rejected").exists(), "the half-written file was read"
    wait_for(lambda: (inbox / "archive" / "copying.fit").exists())
    assert (inbox / "archive" / "copying.fit").read_bytes() == data


def test_bad_file_dropped_in_is_set_aside_with_its_reason(watching: Watching, inbox: Path) -> None:
    watching.thread.start()
    wait_for(lambda: len(watching.reports) >= 1)
    shutil.copy(FIT / "corrupt/activity-filecrc.fit", inbox / "broken.fit")
    shutil.copy(FIT / "synthetic/synthetic_easy.fit", inbox / "easy.fit")
    wait_for(lambda: (inbox / "rejected" / "broken.fit.reason.txt").exists())
    assert "checksum" in (inbox / "rejected" / "broken.fit.reason.txt").read_text(encoding="utf-8")
    wait_for(lambda: watching.activities() == 1)
    wait_for(lambda: any(r.rejected for r in watching.reports))


def test_leave_mode_keeps_imported_files_in_place(tmp_path: Path, inbox: Path) -> None:
    config = Config.model_validate(
        {
            "data_dir": str(tmp_path / "data"),
            "sources": {"fit": {"inbox": str(inbox), "settle_seconds": 0, "after_import": "leave"}},
        }
    )
    db = open_database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    shutil.copy(FIT / "running/run_with_coordinates.fit", inbox)
    watcher = Watching(config, db)
    watcher.thread.start()
    wait_for(lambda: watcher.activities() == 1)
    watcher.stop.set()
    watcher.thread.join(timeout=30)
    assert (inbox / "run_with_coordinates.fit").exists() and not (inbox / "archive").exists()


def test_arrivals_wait_for_quiet_and_track_open_files() -> None:
    now = [100.0]
    arrivals = Arrivals(settle_seconds=2.0, clock=lambda: now[0])
    assert not arrivals.due()
    path = Path("/inbox/a.fit")
    arrivals.touched(path, writing=True)
    assert arrivals.busy() == {path}
    now[0] += 1.0
    assert not arrivals.due()
    arrivals.touched(path, writing=False)  # closed by its writer
    assert arrivals.busy() == frozenset()
    now[0] += 1.9
    assert not arrivals.due()
    now[0] += 0.2
    assert arrivals.due() and not arrivals.due()  # once per quiet spell


def test_watch_without_an_inbox_says_what_to_set(env: Path) -> None:
    from runstrong_sync.errors import ExitStatus
    from tests.support import run_main

    result = run_main("watch")
    assert result.returncode == ExitStatus.CONFIG, result.stderr
    assert "sources.fit.inbox" in result.stderr and "Traceback" not in result.stderr
