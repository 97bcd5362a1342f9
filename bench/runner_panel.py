"""The runner panel, week by week: full sessions placed, the most the rules allow, rule breaks,
the gap after a race, and sessions that a sync without new data moved.

Each runner's weeks are lived through with nightly syncs on a real SQLite file (tests/panel.py).

    python bench/runner_panel.py            # every runner
    python bench/runner_panel.py --quick    # three runners
    python bench/runner_panel.py evening shift
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.panel import WeekReport, run_panel

QUICK = ("evening", "marathon-race", "shift")


def show(reports: list[WeekReport]) -> None:
    columns = ("placed", 6), ("allowed", 7), ("breaks", 6), ("race gap", 8), ("moved", 5)
    print(f"{'runner':<14} {'week':<10} " + " ".join(f"{n:>{w}}" for n, w in columns) + "  notes")
    for r in reports:
        gap = r.post_race_gap
        breaks = len(r.breaks) + len(r.window_breaks)
        print(
            f"{r.runner:<14} {r.monday.isoformat():<10} {r.placed:>6} {r.allowed:>7} {breaks:>6} {gap:>8} "
            f"{len(r.moved_without_data):>5}  {r.notes[:90]}"
        )
        for line in [*r.breaks, *r.window_breaks, *r.moved_without_data]:
            print(f"{'':<14} ! {line}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runners", nargs="*", help="only these runners")
    parser.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK)}")
    args = parser.parse_args(argv)
    only = args.runners or (QUICK if args.quick else ())
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as workdir:
        reports, _ = run_panel(Path(workdir), only)
    show(reports)
    short = [r for r in reports if r.placed < min(2, r.allowed)]
    breaks = sum(len(r.breaks) + len(r.window_breaks) for r in reports)
    moved = sum(len(r.moved_without_data) for r in reports)
    placed = sum(r.placed for r in reports)
    allowed = sum(r.allowed for r in reports)
    print(
        f"\n{len(reports)} weeks: {placed} of {allowed} allowed sessions placed "
        f"({placed / allowed if allowed else 1:.2f}), {len(short)} weeks short of 2 where 2 were allowed, "
        f"{breaks} rule breaks, {moved} sessions moved without new data "
        f"({time.perf_counter() - started:.0f} s)"
    )
    return 0 if not short and not breaks and not moved else 1


if __name__ == "__main__":
    raise SystemExit(main())
