"""Benchmark: full fitparse parse (read_fit_fitparse) against the fast decoder (read_fit_fast).

    python bench/fit_decode.py [--repeat N] [--no-large]

Both decoders run in the same process on the same bytes (files are read once, up front); each
figure is the sum over the set of each file's best of N runs, in CPU seconds of this process
(steadier than wall time on a shared machine), and the values of the two decoders are checked to
be identical (types and key order included) before anything is timed. The 2.7 MB ultra fixture
is not in the repository: it is used from the shared fixture folder beside (or above) the
checkout when present.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # runnable from a plain checkout, installed or not

from runstrong_sync.connectors.fitdata import FitContent  # noqa: E402
from runstrong_sync.connectors.fitfast import clear_plan_cache, read_fit_fast  # noqa: E402
from runstrong_sync.connectors.fitreader import read_fit_fitparse  # noqa: E402

from runstrong_sync.errors import FitReadError  # noqa: E402

FIT = ROOT / "fixtures" / "fit"
LARGE_NAME = "running/ultra-12h-fenix6x_large.fit"


def _values(content: FitContent) -> Any:
    values = dataclasses.asdict(content)
    values.pop("decoder")
    return repr(values)  # repr keeps types (1 vs 1.0) and key order apart


def _best(
    decode: Callable[[bytes], FitContent], files: list[bytes], repeat: int
) -> tuple[float, list[float]]:
    """Best total over `repeat` runs, and the best time per file."""
    per_file = [float("inf")] * len(files)
    for _ in range(repeat):
        for index, data in enumerate(files):
            started = time.process_time()
            decode(data)
            per_file[index] = min(per_file[index], time.process_time() - started)
    return sum(per_file), per_file


def _cold(data: bytes) -> FitContent:
    """The fast decoder without definitions cached from earlier files."""
    clear_plan_cache()
    return read_fit_fast(data)


def run_set(name: str, paths: list[Path], repeat: int, fitparse_repeat: int) -> dict[str, Any]:
    files = [path.read_bytes() for path in paths]
    records = 0
    for path, data in zip(paths, files, strict=True):
        reference, fast = read_fit_fitparse(data), read_fit_fast(data)
        if _values(reference) != _values(fast):
            raise SystemExit(f"values differ for {path}: the benchmark would be meaningless")
        records += len(fast.records)
    slow_total, slow_files = _best(read_fit_fitparse, files, fitparse_repeat)
    fast_total, fast_files = _best(read_fit_fast, files, repeat)
    cold_total, _cold_files = _best(_cold, files, repeat)
    ratios = [slow / fast for slow, fast in zip(slow_files, fast_files, strict=True)]
    return {
        "set": name,
        "files": len(files),
        "records": records,
        "mb": sum(map(len, files)) / 1e6,
        "fitparse_s": slow_total,
        "fast_s": fast_total,
        "cold_s": cold_total,
        "ratio": slow_total / fast_total,
        "per_file_min": min(ratios),
        "per_file_median": statistics.median(ratios),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5, help="runs of the fast decoder per file (best kept)")
    parser.add_argument(
        "--fitparse-repeat", type=int, default=2, help="runs of fitparse per file (best kept)"
    )
    parser.add_argument("--no-large", action="store_true", help="skip the 42k-record ultra even when present")
    parser.add_argument("--all", action="store_true", help="add a set of every fixture both decoders read")
    args = parser.parse_args()

    read_fit_fast((FIT / "synthetic" / "synthetic_easy.fit").read_bytes())  # one-time CRC table build
    sets = [
        ("running", sorted((FIT / "running").glob("*.fit"))),
        ("synthetic", sorted((FIT / "synthetic").glob("*.fit"))),
    ]
    large = next(
        (base / "shared" / "fixtures" / "fit" / LARGE_NAME for base in (ROOT.parent, ROOT.parent.parent)
         if (base / "shared" / "fixtures" / "fit" / LARGE_NAME).is_file()),
        None,
    )  # fmt: skip
    if large is not None and not args.no_large:
        sets.append(("ultra (shared)", [large]))
    if args.all:
        readable = []
        for path in sorted(FIT.rglob("*.fit")):
            try:
                read_fit_fitparse(path.read_bytes())
            except FitReadError:
                continue
            readable.append(path)
        sets.append(("all readable", readable))

    header = (
        f"{'set':<15} {'files':>5} {'records':>8} {'MB':>5} |"
        f" {'fitparse s':>10} {'files/s':>8} {'rec/s':>9} |"
        f" {'fast s':>7} {'files/s':>8} {'rec/s':>10} |"
        f" {'ratio':>6} {'cold':>6} {'min/file':>8} {'median':>7}"
    )
    print(
        f"Python {sys.version.split()[0]}; CPU seconds, best of {args.fitparse_repeat} (fitparse)"
        f" / {args.repeat} (fast) runs per file"
    )
    print(header)
    print("-" * len(header))
    for name, paths in sets:
        if not paths:
            continue
        row = run_set(name, paths, args.repeat, args.fitparse_repeat)
        files, records = row["files"], row["records"]
        slow, fast = row["fitparse_s"], row["fast_s"]
        print(
            f"{name:<15} {files:>5} {records:>8} {row['mb']:>5.2f} |"
            f" {slow:>10.3f} {files / slow:>8.1f} {records / slow:>9.0f} |"
            f" {fast:>7.4f} {files / fast:>8.1f} {records / fast:>10.0f} |"
            f" {row['ratio']:>5.1f}x {slow / row['cold_s']:>5.1f}x"
            f" {row['per_file_min']:>7.1f}x {row['per_file_median']:>6.1f}x"
        )
    print(
        "ratio = fitparse time / fast time over the set; cold = the same with the fast decoder's"
        " definition cache cleared before every file; min/file, median = per-file ratios"
    )


if __name__ == "__main__":
    main()
