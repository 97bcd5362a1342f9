"""`status` and `athletes list` for a squad: CPU seconds with 1,000 athletes against `python -c pass`.

    python bench/squad_commands.py [--quick] [--athletes 1000] [--years Y] [--repeat N] [--against REV]

Builds a database (in a temporary folder) with the demo's six weeks imported for the default
athlete, then N athletes more, each with their own copy of those activities and a night's sync
runs (with ``--years``, those weeks again further back, Y years more for each athlete) and what
the sync keeps of each athlete's time zone; runs each
command as a fresh process `--repeat` times (3 in --quick, 5 otherwise) and prints the median CPU
seconds, the ratio to `python -c pass` measured in the same run, and the target
(0.5 s). With ``--against REV`` (default: where this branch left main) the same commands of that
revision run on a copy of the same database, taken back to that revision's schema, in the same
run, the two taking turns: before, after and their ratio.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from revision import cli_at, default_before, source_tree
from startup import compiled, median_cpu, paired

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select  # noqa: E402

from runstrong_sync import athletes, pipeline  # noqa: E402
from runstrong_sync.config import load_config  # noqa: E402
from runstrong_sync.storage import repo  # noqa: E402
from runstrong_sync.storage.db import (  # noqa: E402
    alembic_config,
    head_revision,
    migration_engine,
    open_database,
)
from runstrong_sync.storage.models import ActivityRow, SyncRunRow  # noqa: E402

NOW = datetime(2026, 11, 24, 3, 30, tzinfo=UTC)
TARGET_S = 0.5
DEMO_WEEKS = 6


def build(folder: Path, squad: int, years: float = 0) -> Path:
    config_path = folder / "config.toml"
    config_path.write_text(
        f'data_dir = "{folder / "data"}"\n[athlete]\ntime_zone = "Europe/Berlin"\n', encoding="utf-8"
    )
    config = load_config(config_path, environ={})
    db = open_database(config.database_url)
    default = pipeline.athlete_id(db, config, NOW)
    pipeline.import_paths(db, default, config, [ROOT / "fixtures" / "demo"], NOW)
    columns = [c.key for c in ActivityRow.__table__.columns if c.key not in ("id", "athlete_id")]
    with db.transaction() as session:
        templates = [
            {c: getattr(row, c) for c in columns} for row in session.scalars(select(ActivityRow)).all()
        ]
        ids = [repo.ensure_athlete(session, f"runner{n:04d}", f"Runner {n}", NOW).id for n in range(squad)]
        session.flush()
        rows = [dict(t, athlete_id=i) for i in ids for t in templates]
        session.execute(insert(ActivityRow), rows)
        # Older history: the same six weeks again and again further back, without their samples
        # and laps (what status and athletes list read are the columns).
        light = [dict(t, laps_json=[], derived_json=None) for t in templates]
        for back in range(1, round(years * 52 / DEMO_WEEKS) + 1):
            shift = timedelta(weeks=DEMO_WEEKS * back)
            older = [dict(t, start_utc=t["start_utc"] - shift) for t in light]
            session.execute(insert(ActivityRow), [dict(t, athlete_id=i) for i in ids for t in older])
        runs = [
            {
                "athlete_id": i,
                "source": source,
                "started_at": NOW - timedelta(hours=1),
                "finished_at": NOW - timedelta(minutes=59),
                "outcome": "ok",
                "summary_json": {"created": 1},
            }
            for i in [default, *ids]
            for source in ("pipeline", "fit")
        ]
        session.execute(insert(SyncRunRow), runs)
    for athlete in [default, *ids]:  # what each athlete's sync keeps of their time zone
        athletes.warn_zone_mismatch_once(db, athlete, config, NOW)
    db.dispose()
    return config_path


def schema_of(tree: Path, config_path: Path, folder: Path) -> Path:
    """A copy of the database with the schema ``tree``'s code expects (its newest migration), and
    a configuration that uses it: another revision refuses a schema newer than its own."""
    head = head_revision(tree / "runstrong_sync" / "storage" / "migrations" / "versions")
    if head is None:
        raise SystemExit(f"{tree}: its migrations have no single head")
    (folder / "data").mkdir(parents=True)
    shutil.copy(config_path.parent / "data" / "runstrong.sqlite", folder / "data" / "runstrong.sqlite")
    config = folder / "config.toml"
    text = config_path.read_text(encoding="utf-8")
    config.write_text(text.replace(str(config_path.parent / "data"), str(folder / "data")), encoding="utf-8")
    from alembic import command

    db = open_database(load_config(config, environ={}).database_url, migrate=False)
    ddl = migration_engine(db.engine)
    with ddl.begin() as connection:  # this tree's migrations take it back to that revision
        alembic = alembic_config(db.engine)
        alembic.attributes["connection"] = connection
        command.downgrade(alembic, head)
    ddl.dispose()
    db.dispose()
    return config


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="3 runs per command instead of 5")
    parser.add_argument("--athletes", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=None)
    parser.add_argument(
        "--years", type=float, default=0, help="history per athlete beyond the demo's six weeks"
    )
    parser.add_argument("--against", default=default_before(), help="git revision measured as before")
    args = parser.parse_args()
    repeat = args.repeat or (3 if args.quick else 5)
    compiled()
    with tempfile.TemporaryDirectory(prefix="runstrong-squad-") as name:
        config_path = build(Path(name), args.athletes, args.years)
        env = {k: v for k, v in os.environ.items() if not k.startswith("RUNSTRONG_")}
        env |= {"RUNSTRONG_CONFIG": str(config_path), "COLUMNS": "200"}
        after = cli_at(ROOT, env, sys.executable)
        before = None
        if args.against:
            tree = source_tree(args.against, Path(name) / "before")
            config_before = schema_of(tree, config_path, Path(name) / "before-db")
            before = cli_at(tree, {**env, "RUNSTRONG_CONFIG": str(config_before)}, sys.executable)
        baseline = median_cpu([sys.executable, "-c", "pass"], env, repeat)
        history = f", {args.years:g} more years of runs each" if args.years else ""
        print(f"{args.athletes + 1} athletes{history}; python -c pass: {baseline:.3f} s CPU", end="")
        print(f" (median of {repeat})")
        if before is not None:
            print(f"before: revision {args.against[:12]}; after: this tree")
        head = f"{'command':<22} {'before s':>9} {'after s':>8} {'before/after':>13}"
        print(f"{head} {'x pass':>7} {'target s':>9}  met")
        for command in (
            ["status"],
            ["status", "--json"],
            ["athletes", "list"],
            ["athletes", "list", "--json"],
        ):
            seconds, old = paired(command, after, before, repeat)
            met = "yes" if seconds <= TARGET_S else "NO"
            was = (
                f"{old:9.3f} {seconds:8.3f} {old / seconds:12.2f}x"
                if old
                else f"{'-':>9} {seconds:8.3f} {'-':>13}"
            )
            print(f"{' '.join(command):<22} {was} {seconds / baseline:7.1f} {TARGET_S:9.2f}  {met}")


if __name__ == "__main__":
    main()
