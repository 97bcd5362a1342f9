"""Strava API requests per sync, against the fake Strava server (real HTTP on 127.0.0.1).

Prints:
  * requests per nightly sync with 0, 1 and 10 new activities, against the minimum possible
    (one list request, plus one streams request per new run the summary cannot label);
  * a 1,000-activity backfill under Strava's default limits (100 reads per 15 minutes, 1,000 per
    day, 10 kept in reserve): requests used, runs needed, 429 answers received (goal 0), against a
    naive client that lists every page and fetches streams for every run.

Run: python bench/strava_requests.py
"""

from __future__ import annotations

import math
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from runstrong_sync.connectors.strava_http import StravaRateLimitedError  # noqa: E402

from tests.fakestrava import FakeStrava, make_activity, serve  # noqa: E402
from tests.strava_helpers import NOW, connect, make_config, sync  # noqa: E402


def nightly(tmp: Path) -> None:
    for new in (0, 1, 10):
        for fake in serve(FakeStrava()):
            folder = tmp / f"nightly{new}"
            folder.mkdir()
            for i in range(60):
                fake.add(make_activity(1000 + i, NOW - timedelta(days=2 + i)))
            config = make_config(folder, fake)
            db = connect(config, fake)
            sync(db, config, fake)
            hard = 0
            for i in range(new):
                is_hard = i % 3 == 2  # every third new run is fast: its summary cannot tell
                hard += is_hard
                fake.add(
                    make_activity(
                        5000 + i,
                        NOW - timedelta(hours=20) + timedelta(minutes=50 * i),
                        distance_m=10400 if is_hard else 9000,
                        intensity="hard" if is_hard else "easy",
                    )
                )
            refreshes = len(fake.requests("/oauth/token"))
            # The next night: yesterday's 6-hour access token has expired.
            run = sync(db, config, fake, clock=lambda f=fake: f.clock() + timedelta(days=1))
            refreshes = len(fake.requests("/oauth/token")) - refreshes
            stats = run.connector.last_run
            assert stats is not None and run.report.created == new
            minimum = 1 + hard
            print(
                f"nightly, {new:2d} new: {run.requests} API requests ({stats.list_requests} list, "
                f"{stats.stream_requests} streams) + {refreshes} token refresh; minimum possible {minimum} "
                f"(+1 refresh); ratio {run.requests / minimum:.2f}"
            )
            db.dispose()


def backfill(tmp: Path, total: int = 1000) -> None:
    for fake in serve(FakeStrava()):
        for i in range(total):
            hard = i % 4 == 3
            fake.add(
                make_activity(
                    10_000 + i,
                    NOW - timedelta(days=1) - timedelta(hours=26) * i,
                    distance_m=10400 if hard else 9000,
                    intensity="hard" if hard else "easy",
                )
            )
        folder = tmp / "backfill"
        folder.mkdir()
        config = make_config(folder, fake)
        db = connect(config, fake)
        runs = stopped = 0
        started = time.perf_counter()
        while runs < 50:
            runs += 1
            try:
                run = sync(db, config, fake, since=date(2020, 1, 1) if runs == 1 else None)
            except StravaRateLimitedError:
                stopped += 1
                fake.new_window()
                continue
            if run.requests == 1 and run.report.created + run.report.updated == 0:
                break  # a plain nightly run: the backfill is done
            fake.new_window()
        elapsed = time.perf_counter() - started
        requests = fake.api_requests()
        print(
            f"backfill of {total}: {requests} requests over {runs} runs ({stopped} stopped by the budget; "
            f"the last run only confirms nothing is left); 429 answers: {fake.responses_429}; "
            f"{elapsed:.1f} s"
        )
        naive = math.ceil(total / 200) + 1 + total
        print(
            f"  a naive client (every page, streams for every run): {naive} requests, at least "
            f"{math.ceil(naive / 90)} fifteen-minute windows; ratio naive/ours {naive / requests:.1f}"
        )
        db.dispose()


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        nightly(tmp)
        backfill(tmp)


if __name__ == "__main__":
    main()
