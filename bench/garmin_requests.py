"""Garmin Connect requests per sync, against the fake Garmin Connect (real HTTPS on 127.0.0.1,
through the unmodified garminconnect library).

Prints, as ratios against the minimum possible:
  * requests per nightly sync with 0, 1 and 5 new activities (minimum: one list request plus one
    download per new activity), with a fresh token and with one due for refresh (+1 refresh);
  * sign-ins after the first (goal 0);
  * requests of a backfill of N activities in pages, against listing page by page plus one
    download each;
  * workout requests of a nightly sync with the plan unchanged (goal 0).

Run: python bench/garmin_requests.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from runstrong_sync import pipeline  # noqa: E402
from tests.fakegarmin import GarminFake, State, add_demo, demo_fit_files  # noqa: E402
from tests.test_garmin import NOW, connect, ingest, make_config  # noqa: E402


def _ratio(used: int, minimum: int) -> str:
    return f"{used / minimum:.2f}x" if minimum else ("1.00x" if used == 0 else "inf")


def _with_env(fake: GarminFake) -> None:
    os.environ.update(fake.environment())


def nightly(tmp: Path, new: int, refresh_due: bool) -> None:
    files = demo_fit_files()
    folder = tmp / f"nightly-{new}-{refresh_due}"
    folder.mkdir()
    # A refresh is due when the stored token expires within the library's 15-minute margin.
    with GarminFake(folder, State(token_lifetime_s=300 if refresh_due else 3600)) as fake:
        _with_env(fake)
        config = make_config(folder)
        db = connect(config, fake)
        older, newer = files[: len(files) - new], files[len(files) - new :]
        add_demo(fake, older)
        ingest(db, config)  # stores a token that is due for refresh next time when refresh_due
        fake.state.token_lifetime_s = 3600
        add_demo(fake, newer)
        sign_ins, before = fake.state.sign_ins, fake.state.total()
        report, _ = ingest(db, config)
        used = fake.state.total() - before
        minimum = 1 + new + (1 if refresh_due else 0)
        created = report.created
        print(
            f"nightly, {new} new{', token refresh due' if refresh_due else ''}: {used} requests "
            f"(minimum {minimum}: {_ratio(used, minimum)}), sign-ins {fake.state.sign_ins - sign_ins}, "
            f"stored {created}"
        )


def backfill(tmp: Path, page: int) -> None:
    files = demo_fit_files()
    folder = tmp / "backfill"
    folder.mkdir()
    with GarminFake(folder, State()) as fake:
        _with_env(fake)
        config = make_config(folder)
        db = connect(config, fake)
        add_demo(fake, files)
        before = fake.state.total()
        since = (NOW - timedelta(days=400)).date()
        ingest(db, config, since=since, backfill_page=page)
        used = fake.state.total() - before
        minimum = -(-len(files) // page) + (1 if len(files) % page == 0 else 0) + len(files)
        print(
            f"backfill of {len(files)} activities, pages of {page}: {used} requests "
            f"(minimum {minimum}: {_ratio(used, minimum)})"
        )


def workouts(tmp: Path) -> None:
    folder = tmp / "workouts"
    folder.mkdir()
    with GarminFake(folder, State()) as fake:
        _with_env(fake)
        config = make_config(folder, push_workouts=True)
        db = connect(config, fake)
        athlete = pipeline.athlete_id(db, config, NOW)
        pipeline.import_paths(db, athlete, config, [ROOT / "fixtures" / "demo"], NOW)
        pipeline.sync(config, db, now=NOW)
        pushed = len(fake.state.workouts)
        before = fake.state.total()
        pipeline.sync(config, db, now=NOW)
        used = fake.state.total() - before
        print(
            f"nightly with the plan unchanged and {pushed} workouts on Garmin: {used} requests "
            f"(minimum 1, the activity list: {_ratio(used, 1)})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer cases (well under a minute)")
    quick = parser.parse_args().quick
    with tempfile.TemporaryDirectory() as temp:
        tmp = Path(temp)
        for new in (0, 1) if quick else (0, 1, 5):
            nightly(tmp, new, refresh_due=False)
        nightly(tmp, 0, refresh_due=True)
        backfill(tmp, 10 if quick else 4)
        workouts(tmp)


if __name__ == "__main__":
    main()
