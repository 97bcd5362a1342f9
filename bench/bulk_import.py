"""Benchmark: bulk import of thousands of FIT files, loose and zipped, against a full fitparse parse.

    python bench/bulk_import.py [--quick] [--files N] [--jobs 2] [--baseline-sample 100] [--no-whole]
                                [--against REV] [--full-baseline]

    --quick               only the whole-process imports: of 77 files, or of 77 and N with --files N
                          (--quick --files 2000: the 2,000-file ratio; --quick --files 5000: also the
                          peak memory at 5,000 files against 500)

The files are copies of the real fixtures, each made another activity (new serial number, dates
moved by whole days; see fitcopies.py). In the same run it measures:

* fitparse: a single-process full parse (every message decoded, CRC checked) of an even sample of
  the same files (``--baseline-sample 0``: all of them), as files/s and records/s;
* the import of the folder and of the same files in one zip, each in a fresh process with a fresh
  SQLite database: parent checks, parallel parsing in ``--jobs`` worker processes, every activity
  stored whole (a savepoint each, committed in batches); wall-clock files/s and records/s, and
  peak resident memory of the importing process and of its largest worker;
* the zip import again with a quarter of the files, to show the peak memory stays flat as the
  archive grows;
* that the values the import path extracts are identical to fitparse's on the sample;
* whole-process `runstrong-sync import` (start-up to feed) of the first 77 files and of all of
  them against fitparse's full parse of the same files, and the peak memory of importing all the
  files against a tenth of them (--files 5000 compares 5,000 with 500); with ``--against REV``
  (default: where this branch left main) the same imports by that revision's code, in the same
  run: before, after and their ratio. fitparse parses the first 77 files (11 copies of each of
  the 7 fixtures) in this run; for more files its time is each fixture's measured mean times the
  copies of it, since fitparse reads one file at a time and each copy costs what its original
  does (``--full-baseline`` parses every file instead: minutes at 2,000 files).
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from fitcopies import replicate  # noqa: E402
from revision import cli_at, default_before, source_tree  # noqa: E402

FIT = ROOT / "fixtures" / "fit"
BASES = (
    "running/run_with_coordinates.fit",
    "running/activity-small-fenix2-run.fit",
    "running/2019-09-14-17-22-05.fit",
    "synthetic/synthetic_easy.fit",
    "synthetic/synthetic_tempo.fit",
    "synthetic/synthetic_intervals.fit",
    "other_sports/2016-04-09-13-19-18.fit",
)


def generate(folder: Path, count: int) -> int:
    """Write ``count`` distinct activity files; returns their total number of records."""
    from runstrong_sync.connectors.fitfast import read_fit

    bases = [(FIT / name).read_bytes() for name in BASES]
    records = [len(read_fit(data).records) for data in bases]
    folder.mkdir(parents=True)
    total = 0
    for i in range(count):
        base = i % len(bases)
        (folder / f"{i:05d}.fit").write_bytes(replicate(bases[base], 3_000_000 + i, 1 + i))
        total += records[base]
    return total


def zip_folder(folder: Path, target: Path, limit: int | None = None) -> None:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for path in sorted(folder.iterdir())[:limit]:
            archive.write(path, f"activities/{path.name}")


def peak_kib() -> tuple[int, int]:
    return (
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    )


# --- phases, each run in a fresh process ------------------------------------------------------


def phase_fitparse(paths: list[Path]) -> dict[str, Any]:
    import fitparse

    records = 0
    per_file = []
    started, cpu = time.perf_counter(), time.process_time()
    for path in paths:
        begun = time.perf_counter()
        fit = fitparse.FitFile(io.BytesIO(path.read_bytes()), check_crc=True)
        for message in fit.get_messages():  # a full parse: every message and field decoded
            if message.name == "record":
                records += 1
        per_file.append(time.perf_counter() - begun)
    seconds = time.perf_counter() - started
    return {
        "files": len(paths),
        "records": records,
        "seconds": seconds,
        "cpu": time.process_time() - cpu,
        "per_file": per_file,
    }


def phase_identical(paths: list[Path]) -> dict[str, Any]:
    from zoneinfo import ZoneInfo

    from runstrong_sync.connectors.fitmap import activities_from_fit
    from runstrong_sync.connectors.fitreader import read_fit_fitparse
    from runstrong_sync.connectors.formats import read_activity_file

    zone = ZoneInfo("Europe/Berlin")
    different = []
    decoders: dict[str, int] = {}
    for path in paths:
        data = path.read_bytes()
        fast = read_activity_file(data, path.name, str(path), zone)
        reference = activities_from_fit(read_fit_fitparse(data), str(path), fast.fingerprint, zone)
        decoders[fast.decoder] = decoders.get(fast.decoder, 0) + 1
        strip = [dataclasses.replace(a, raw={**a.raw, "decoder": None}) for a in fast.activities]
        if strip != [dataclasses.replace(a, raw={**a.raw, "decoder": None}) for a in reference]:
            different.append(path.name)
    return {"files": len(paths), "different": different, "decoders": decoders}


def phase_import(target: Path, jobs: int) -> dict[str, Any]:
    from runstrong_sync import pipeline
    from runstrong_sync.config import Config
    from runstrong_sync.storage.db import open_database

    with tempfile.TemporaryDirectory() as temp:
        config = Config.model_validate({"data_dir": temp, "sources": {"fit": {"enabled": False}}})
        db = open_database(f"sqlite:///{Path(temp) / 'bench.sqlite'}")
        now = datetime(2030, 1, 1, tzinfo=UTC)
        athlete = pipeline.athlete_id(db, config, now)
        files = [0]

        def progress(done: int, total: int | None, name: str) -> None:
            files[0] = total or 0

        started, cpu = time.perf_counter(), time.process_time()
        report = pipeline.import_paths(db, athlete, config, [target], now, progress, options={"jobs": jobs})
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu
        db.dispose()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # the workers, waited for at shutdown
    parent, workers = peak_kib()
    return {
        "files": files[0],
        "created": report.created,
        "rejected": len(report.rejected),
        "seconds": seconds,
        "cpu": cpu + children.ru_utime + children.ru_stime,
        "peak_parent_mib": parent / 1024,
        "peak_worker_mib": workers / 1024,
    }


def whole_process(target: Path, jobs: int, tree: Path = ROOT) -> dict[str, Any]:
    """`runstrong-sync import` as a person runs it: a fresh process, start-up, parsing, storing,
    labelling, planning and the feed, with a fresh data dir; wall clock, CPU and peak memory of
    that process and its workers alone (wait4's figures for that one child)."""

    with tempfile.TemporaryDirectory() as temp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RUNSTRONG_")}
        config = Path(temp) / "config.toml"
        config.write_text('[athlete]\ntime_zone = "Europe/Berlin"\n', encoding="utf-8")
        env |= {"RUNSTRONG_DATA_DIR": temp, "RUNSTRONG_CONFIG": str(config)}
        argv, env = cli_at(tree, env, sys.executable)
        out, err = Path(temp) / "stdout", Path(temp) / "stderr"
        started = time.perf_counter()
        with out.open("w") as stdout, err.open("w") as stderr:
            process = subprocess.Popen(
                [*argv, "import", str(target), "--json", "--jobs", str(jobs)],
                stdout=stdout,
                stderr=stderr,
                env=env,
            )
            _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        output, errors = out.read_text(encoding="utf-8"), err.read_text(encoding="utf-8")
    if process.returncode not in (0, 4):
        raise SystemExit(f"import failed:\n{errors}")
    summary = json.loads(output)
    return {
        "files": summary["files"],
        "new": summary["new"],
        "seconds": seconds,
        "cpu": usage.ru_utime + usage.ru_stime,
        "peak_mib": usage.ru_maxrss / 1024,  # the largest of that process and its workers
    }


def steady(target: Path, jobs: int, tree: Path, count: int) -> dict[str, Any]:
    """The median run of three (by wall clock) for small imports, where one run is too noisy."""
    runs = sorted((whole_process(target, jobs, tree) for _ in range(3 if count <= 100 else 1)), key=seconds)
    return runs[len(runs) // 2]


def seconds(figures: dict[str, Any]) -> float:
    return float(figures["seconds"])


MEASURED = 77  # files fitparse parses in every run: 11 copies of each fixture


def fitparse_seconds(
    paths: list[Path], count: int, full: bool, measured: dict[int, dict[str, Any]]
) -> tuple[float, str]:
    """fitparse's full parse of the first ``count`` files: measured, or for more than MEASURED
    files each fixture's mean measured time times its copies among them."""
    if full or count <= MEASURED:
        measured[count] = run_phase("fitparse", *map(str, paths[:count]))
        return float(measured[count]["seconds"]), "measured"
    if MEASURED not in measured:
        measured[MEASURED] = run_phase("fitparse", *map(str, paths[:MEASURED]))
    sample = measured[MEASURED]["per_file"]
    means = [sum(sample[b :: len(BASES)]) / len(sample[b :: len(BASES)]) for b in range(len(BASES))]
    estimate = sum(means[i % len(BASES)] for i in range(count))
    return estimate, f"from {MEASURED} measured"


def whole_process_section(folder: Path, temp: Path, args: argparse.Namespace) -> None:
    """Whole-process imports against a fitparse full parse of the same files, and peak memory
    of an import ten times larger against a smaller one."""
    paths = sorted(folder.iterdir())
    before = source_tree(args.against, temp / "before") if args.against else None
    print("\nWhole process (`runstrong-sync import DIR --json`, fresh data dir each):")
    peak_all = None
    measured: dict[int, dict[str, Any]] = {}
    for count in sorted({min(MEASURED, len(paths)), len(paths)}):
        subset = temp / f"subset-{count}"
        subset.mkdir()
        for path in paths[:count]:
            os.link(path, subset / path.name)
        reference, how = fitparse_seconds(paths, count, args.full_baseline, measured)
        imported = steady(subset, args.jobs, ROOT, count)
        if count == len(paths):
            peak_all = imported["peak_mib"]
        ratio = reference / imported["seconds"]
        print(
            f"  {count:>5} files: import {imported['seconds']:.2f} s wall ({imported['cpu']:.2f} CPU s), "
            f"fitparse full parse {reference:.2f} s ({how}): import is {ratio:.1f}x fitparse "
            f"(goal: 15x at 77 files, 25x at 2,000); {imported['new']} new"
        )
        if before is not None:
            old = steady(subset, args.jobs, before, count)
            print(
                f"         before ({args.against[:12]}): {old['seconds']:.2f} s wall "
                f"({old['cpu']:.2f} CPU s), "
                f"{reference / old['seconds']:.1f}x fitparse; after/before: "
                f"{old['seconds'] / imported['seconds']:.2f}x faster wall, "
                f"{old['cpu'] / imported['cpu']:.2f}x less CPU"
            )
    small = max(1, len(paths) // 10)
    smaller = temp / "rss-small"
    smaller.mkdir()
    for path in paths[:small]:
        os.link(path, smaller / path.name)
    low = whole_process(smaller, args.jobs)["peak_mib"]
    high = peak_all if peak_all is not None else whole_process(folder, args.jobs)["peak_mib"]
    print(
        f"  peak RSS of one process: {len(paths)} files {high:.0f} MiB, {small} files {low:.0f} MiB: "
        f"x{high / low:.2f} (goal: at most 1.2)"
    )


def run_phase(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--phase", *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"phase {args[0]} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=None, help="files made (default 2000; 77 with --quick)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--baseline-sample", type=int, default=100, help="files parsed by fitparse (0: all)")
    parser.add_argument("--phase", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument(
        "--quick", action="store_true", help="only the whole-process imports: of 77 files (and --files N)"
    )
    parser.add_argument(
        "--full-baseline",
        action="store_true",
        help="fitparse parses every file, not 77 of them (slow: minutes at 2,000 files)",
    )
    parser.add_argument(
        "--no-whole", dest="whole", action="store_false", help="skip the whole-process imports"
    )
    parser.add_argument("--against", default=default_before(), help="git revision measured as before")
    args = parser.parse_args()
    if args.quick:
        with tempfile.TemporaryDirectory(prefix="runstrong-bench-") as temp:
            folder = Path(temp) / "files"
            generate(folder, args.files or MEASURED)
            whole_process_section(folder, Path(temp), args)
        return
    if args.phase:
        name, *rest = args.phase
        if name == "fitparse":
            result = phase_fitparse([Path(p) for p in rest])
        elif name == "identical":
            result = phase_identical([Path(p) for p in rest])
        else:
            result = phase_import(Path(rest[0]), int(rest[1]))
        print(json.dumps(result))
        return

    args.files = args.files or 2000
    with tempfile.TemporaryDirectory(prefix="runstrong-bench-") as temp:
        folder = Path(temp) / "files"
        started = time.perf_counter()
        records = generate(folder, args.files)
        zipped, small_zip = Path(temp) / "export.zip", Path(temp) / "export-quarter.zip"
        zip_folder(folder, zipped)
        zip_folder(folder, small_zip, args.files // 4)
        print(
            f"{args.files} FIT files from {len(BASES)} real fixtures, {records:,} records, "
            f"{sum(p.stat().st_size for p in folder.iterdir()) / 1e6:.0f} MB "
            f"(zip {zipped.stat().st_size / 1e6:.0f} MB); made in {time.perf_counter() - started:.1f} s"
        )
        paths = sorted(folder.iterdir())
        step = max(1, len(paths) // args.baseline_sample) if args.baseline_sample else 1
        sample = paths[::step][: args.baseline_sample or None]
        per_file = records / len(paths)

        same = run_phase("identical", *map(str, sample))
        baseline = run_phase("fitparse", *map(str, sample))
        loose = run_phase("import", str(folder), str(args.jobs))
        packed = run_phase("import", str(zipped), str(args.jobs))
        quarter = run_phase("import", str(small_zip), str(args.jobs))

    base_fps = baseline["files"] / baseline["seconds"]
    base_fpc = baseline["files"] / baseline["cpu"]
    print(
        f"values identical to fitparse's on {same['files']} sampled files: "
        f"{'yes' if not same['different'] else 'NO: ' + ', '.join(same['different'][:5])} "
        f"(decoders used: {same['decoders']})"
    )
    header = (
        f"{'files':>7}{'seconds':>9}{'files/s':>9}{'records/s':>12}{'x fitparse':>11}"
        f"{'CPU s':>8}{'files/CPU-s':>12}{'x fitparse':>11}{'peak MiB':>16}"
    )
    print(f"\n{'':34}{header}")
    rows = [
        ("fitparse full parse, 1 process", baseline, None),
        (f"import folder, {args.jobs} workers", loose, loose),
        (f"import zip, {args.jobs} workers", packed, packed),
        (f"import zip of 1/4, {args.jobs} workers", quarter, quarter),
    ]
    for label, figures, memory in rows:
        fps = figures["files"] / figures["seconds"]
        rps = figures["records"] / figures["seconds"] if "records" in figures else fps * per_file
        peak = f"{memory['peak_parent_mib']:.0f} + {memory['peak_worker_mib']:.0f}" if memory else "-"
        fpc = figures["files"] / figures["cpu"]
        print(
            f"{label:34}{figures['files']:>7}{figures['seconds']:>9.1f}{fps:>9.1f}{rps:>12,.0f}"
            f"{fps / base_fps:>10.1f}x{figures['cpu']:>8.1f}{fpc:>12.1f}{fpc / base_fpc:>10.1f}x{peak:>16}"
        )
    print(
        "\nseconds: wall clock; CPU s: this process and its workers together (steadier on a busy "
        "machine; the wall-clock gain on idle cores is about the CPU gain times the workers used).\n"
        "peak MiB: importing process + largest worker (ru_maxrss). "
        f"Created {loose['created']}/{packed['created']}/{quarter['created']} activities, "
        f"rejected {loose['rejected']}/{packed['rejected']}/{quarter['rejected']}."
    )
    growth = packed["peak_parent_mib"] / quarter["peak_parent_mib"]
    print(f"zip of {args.files} files vs {args.files // 4}: parent peak memory x{growth:.2f}")
    if args.whole:
        with tempfile.TemporaryDirectory(prefix="runstrong-bench-") as temp:
            folder = Path(temp) / "files"
            generate(folder, args.files)
            whole_process_section(folder, Path(temp), args)


if __name__ == "__main__":
    main()
