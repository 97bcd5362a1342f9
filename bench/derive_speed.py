"""Benchmark: the per-file CPU of an import (decode + activities + derived metrics), and of
derive_metrics alone, against the previous per-record spike filter, measured in the same run.

    python bench/derive_speed.py [--quick] [--repeat 3]

The previous filter took statistics.median of an 11-reading window for every record; the one in
runstrong_sync/core/derive.py slides one sorted window along the series. Both are timed on the same
files (the demo athlete, the labelled sets), best of ``--repeat`` runs, process CPU time. The
baseline is the same code with only the spike filter put back, so the ratio is that change's.
Also checks that both give the same derived metrics.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from runstrong_sync.connectors.fitfast import read_fit  # noqa: E402
from runstrong_sync.connectors.fitmap import activities_from_fit  # noqa: E402

from runstrong_sync.core import derive  # noqa: E402


def previous_drop_hr_spikes(rows: Any) -> None:
    """The filter as it was: a median of the window around every reading."""
    hr = rows.hr
    for i, value in enumerate(hr):
        if value is None:
            continue
        window = [v for v in hr[max(0, i - 5) : i + 6] if v is not None]
        if len(window) >= 5 and abs(value - statistics.median(window)) > derive.HR_SPIKE_BPM:
            hr[i] = None
            rows.hr_artifacts += 1


def files(quick: bool) -> list[Path]:
    found = sorted((ROOT / "fixtures" / "demo").glob("*.fit"))
    found += sorted((ROOT / "fixtures" / "labelled").glob("*.fit"))
    found += sorted((ROOT / "fixtures" / "labelled_runners").glob("*.fit"))
    return found[::4] if quick else found


def cpu(work: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        work()
        best = min(best, time.process_time() - started)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a quarter of the files, two repeats")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    repeat = 2 if args.quick else args.repeat
    paths = files(args.quick)
    contents = [read_fit(p.read_bytes()) for p in paths]
    records = sum(len(c.records) for c in contents)
    zone = ZoneInfo("UTC")

    def import_all() -> object:
        return [activities_from_fit(read_fit(p.read_bytes()), str(p), "bench", zone) for p in paths]

    def derive_all() -> object:
        return [activities_from_fit(c, "bench", "bench", zone) for c in contents]

    current = derive._drop_hr_spikes
    now_import, now_derive = cpu(import_all, repeat), cpu(derive_all, repeat)
    after = [a.derived for acts in derive_all() for a in acts]  # type: ignore[attr-defined]
    derive._drop_hr_spikes = previous_drop_hr_spikes  # type: ignore[assignment]
    try:
        then_import, then_derive = cpu(import_all, repeat), cpu(derive_all, repeat)
        before = [a.derived for acts in derive_all() for a in acts]  # type: ignore[attr-defined]
    finally:
        derive._drop_hr_spikes = current
    same = before == after
    print(f"{len(paths)} files, {records} records, best of {repeat}")
    print(f"import CPU (decode + activities + derive): previous {then_import:.2f} s, now {now_import:.2f} s")
    print(f"  ratio previous/now: {then_import / now_import:.2f}x")
    print(f"activities + derive only: previous {then_derive:.2f} s, now {now_derive:.2f} s")
    print(f"  ratio previous/now: {then_derive / now_derive:.2f}x")
    print("same derived metrics: " + ("yes" if same else "NO"))
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
