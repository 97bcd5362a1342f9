"""Start-up cost of the command line: CPU seconds of whole processes against `python -c pass`.

    python bench/startup.py [--quick] [--repeat N] [--against REV]

Builds a small database with the demo's six weeks (in a temporary folder), then runs each
command as a fresh process `--repeat` times (3 in --quick, 7 otherwise) and takes the median of
its user+system CPU seconds. Prints each command's seconds, its ratio to `python -c pass` measured
in the same run, and the target from the issue (CPU seconds; --help 0.15 s, activities, plan and
week 0.35 s). With ``--against REV`` (default: where this branch left main) the same commands of
that revision run in the same run, each on a demo database it made itself, the two taking turns:
before, after and their ratio.
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from revision import cli_at, default_before, source_tree

ROOT = Path(__file__).resolve().parents[1]
TODAY = "2026-10-20"  # the demo's runs end in mid October 2026
TARGETS = {"--help": 0.15, "activities": 0.35, "plan": 0.35, "week": 0.35}


def cpu_seconds(argv: list[str], env: dict[str, str]) -> float:
    """User + system CPU of one child process (and its children)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def median_cpu(argv: list[str], env: dict[str, str], repeat: int) -> float:
    return statistics.median(cpu_seconds(argv, env) for _ in range(repeat))


Side = tuple[list[str], dict[str, str]]  # argv prefix and environment of one revision's command line


def paired(command: list[str], after: Side, before: Side | None, repeat: int) -> tuple[float, float | None]:
    """Median CPU seconds of ``command`` after and before, their runs taking turns, so a change in
    the machine's load between them weighs on both alike."""
    runs: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        runs[0].append(cpu_seconds([*after[0], *command], after[1]))
        if before is not None:
            runs[1].append(cpu_seconds([*before[0], *command], before[1]))
    return statistics.median(runs[0]), statistics.median(runs[1]) if runs[1] else None


def make_database(folder: Path, env: dict[str, str], cli: Sequence[str] | None = None) -> Path:
    """The demo's database made by ``cli`` (argv prefix; default: this tree), with a configuration."""
    demo = folder / "demo"
    subprocess.run(
        [*(cli or [sys.executable, "-m", "runstrong_sync"]), "--today", TODAY, "demo", "--out", str(demo)],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    config = folder / "config.toml"
    config.write_text(
        f'data_dir = "{demo}"\n[athlete]\ntime_zone = "Europe/Berlin"\n'
        f'[database]\nurl = "sqlite:///{demo / "runstrong.sqlite"}"\n'
        f'[feed]\npath = "{demo / "runstrong.ics"}"\n[sources.fit]\nenabled = false\n',
        encoding="utf-8",
    )
    return config


def compiled() -> None:
    """The project's modules compiled, as in an installed tree: no run pays for compiling a file
    changed since (with PYTHONDONTWRITEBYTECODE set, every run would)."""
    for package in ("runstrong_sync", "connectors"):
        compileall.compile_dir(ROOT / package, quiet=1)


def side(tree: Path, folder: Path, env: dict[str, str]) -> Side:
    """The argv prefix and environment that run ``tree``'s command line on its own demo database."""
    argv, tree_env = cli_at(tree, env, sys.executable)
    config = make_database(folder, tree_env, argv)
    return argv, {**tree_env, "RUNSTRONG_CONFIG": str(config), "RUNSTRONG_TODAY": TODAY}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="3 runs per command instead of 7")
    parser.add_argument("--repeat", type=int, default=None)
    parser.add_argument("--against", default=default_before(), help="git revision measured as before")
    args = parser.parse_args()
    repeat = args.repeat or (3 if args.quick else 7)
    compiled()
    with tempfile.TemporaryDirectory(prefix="runstrong-startup-") as temp:
        folder = Path(temp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("RUNSTRONG_")}
        env["COLUMNS"] = "120"
        after = side(ROOT, folder / "after", env)
        before = (
            side(source_tree(args.against, folder / "tree"), folder / "before", env) if args.against else None
        )
        baseline = median_cpu([sys.executable, "-c", "pass"], env, repeat)
        print(f"python -c pass: {baseline:.3f} s CPU (median of {repeat})")
        if before is not None:
            print(f"before: revision {args.against[:12]}; after: this tree")
        head = f"{'command':<12} {'before s':>9} {'after s':>8} {'before/after':>13}"
        print(f"{head} {'x pass':>7} {'target s':>9}  met")
        for command in ("--help", "activities", "plan", "week", "zones", "status"):
            seconds, old = paired([command], after, before, repeat)
            was = (
                f"{old:9.3f} {seconds:8.3f} {old / seconds:12.2f}x"
                if old
                else f"{'-':>9} {seconds:8.3f} {'-':>13}"
            )
            target = TARGETS.get(command)
            shown = f"{target:.2f}" if target else "-"
            met = "" if target is None else ("yes" if seconds <= target else "NO")
            print(f"{command:<12} {was} {seconds / baseline:7.1f} {shown:>9}  {met}")


if __name__ == "__main__":
    main()
