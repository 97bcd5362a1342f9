"""The runner panel lived through: nightly syncs on a real SQLite file, day by day.

Every night at 03:30 (the runner's time) the files of the runs done since the last sync are
imported and `sync` runs; the runner then does the sessions published for that day (a strength
activity arrives with the next night's sync). A second sync ten minutes later brings no new data:
nothing published may change. Each week is then measured against the rules written out in
plan_rules: full sessions placed, the most the rules allow, rule breaks, the gap after a race.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from runstrong_sync import pipeline, planning
from runstrong_sync.config import Config, validate
from runstrong_sync.core.domain import Activity, Label, StrengthSession
from runstrong_sync.core.plan import week_start
from runstrong_sync.sources import Imported
from runstrong_sync.storage import repo
from runstrong_sync.storage.db import Database, open_database
from tests.plan_rules import HEAVY_NAMES, PLYO_NAMES, max_legal, recovery_for

PANEL = Path(__file__).resolve().parents[1] / "fixtures" / "panel"
SYNC_AT = time(3, 30)


@dataclass(frozen=True)
class Runner:
    key: str
    about: str
    data: dict[str, Any]

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.data["time_zone"])

    @property
    def first_checked(self) -> date:
        return date.fromisoformat(self.data["first_checked"])

    @property
    def mondays(self) -> list[date]:
        return [self.first_checked + timedelta(weeks=k) for k in range(self.data["checked_weeks"])]

    def files(self) -> list[tuple[datetime, Path]]:
        """Each file with the moment its run ends at the latest (its start plus four hours)."""
        out = []
        for path in sorted((PANEL / self.key).glob("*.fit.gz")):
            day, hhmm = path.name[:10], path.name[11:15]
            start = datetime.combine(date.fromisoformat(day), time(int(hhmm[:2]), int(hhmm[2:])), self.zone)
            out.append((start, path))
        return out


def runners() -> list[Runner]:
    listing = json.loads((PANEL / "runners.json").read_text(encoding="utf-8"))
    return [Runner(r["key"], r["about"], r) for r in listing["runners"]]


@dataclass
class WeekReport:
    runner: str
    monday: date
    placed: int = 0  # full sessions done as published
    allowed: int = 0  # the most the rules allow this week
    breaks: list[str] = field(default_factory=list)
    post_race_gap: str = "-"  # days from the last race to the first session after it
    window_breaks: list[str] = field(default_factory=list)  # plyometrics or heavy legs too soon
    moved_without_data: list[str] = field(default_factory=list)
    notes: str = ""


def config_for(runner: Runner, data_dir: Path) -> Config:
    d = runner.data
    return validate(
        {
            "data_dir": str(data_dir),
            "athlete": {
                "name": runner.key,
                "time_zone": d["time_zone"],
                "threshold_hr": d["threshold_hr"],
                "max_hr": d["max_hr"],
                "resting_hr": d["resting_hr"],
                "threshold_pace": d["threshold_pace"],
                "experience": d["experience"],
                "equipment": d["equipment"],
            },
            "planner": {"races": d["races"]},
            "sources": {"fit": {"enabled": False}},
        },
        f"panel runner {runner.key}",
    )


def _snapshot(db: Database, athlete: int) -> dict[str, tuple[datetime, int, str]]:
    with db.transaction() as session:
        return {s.uid: (s.start, s.sequence, s.kind) for s in repo.load_sessions(session, athlete)}


def _strength(session: StrengthSession) -> Activity:
    start = session.start.astimezone(UTC)
    seconds = session.duration_min * 60.0
    return Activity(
        source="panel",
        source_ref=session.uid,
        external_id=f"strength-{session.uid}-{session.start.isoformat()}",
        sport="strength",
        start_utc=start,
        utc_offset_s=int(session.start.utcoffset().total_seconds()) if session.start.utcoffset() else 0,
        elapsed_s=seconds,
        moving_s=seconds,
        name="Strength",
    )


@dataclass
class Lived:
    """What happened: the sessions done (as published that day) and every sync's surprises."""

    done: list[StrengthSession] = field(default_factory=list)
    moved_without_data: list[tuple[date, str]] = field(default_factory=list)
    feed_changed_without_data: list[date] = field(default_factory=list)
    week_notes: dict[str, str] = field(default_factory=dict)


def live(runner: Runner, workdir: Path) -> tuple[Lived, Database, int, Config]:
    """Nightly syncs from the first checked Monday to the Monday after the last checked week."""
    config = config_for(runner, workdir)
    db = open_database(config.database_url)
    files = runner.files()
    first = datetime.combine(runner.first_checked, SYNC_AT, runner.zone)
    last = datetime.combine(runner.mondays[-1] + timedelta(days=7), SYNC_AT, runner.zone)
    athlete = pipeline.athlete_id(db, config, first)
    lived = Lived()
    imported: set[Path] = set()
    pending: list[StrengthSession] = []
    now = first
    while now <= last:
        new = [p for start, p in files if start + timedelta(hours=4) <= now and p not in imported]
        imported.update(new)
        pipeline.ingest(db, athlete, "panel", [Imported(_strength(s)) for s in pending], now)
        pipeline.sync(config, db, now=now, sources=[], import_paths=new)
        _quiet_resync(db, athlete, config, now, lived)
        today = now.date()
        with db.transaction() as session:
            published = repo.load_sessions(session, athlete)
            notes = repo.get_state(session, athlete, planning.PLAN_NOTES_KEY) or {}
        lived.week_notes.update(notes.get("weeks", {}))
        pending = [s for s in published if s.start.astimezone(runner.zone).date() == today]
        lived.done.extend(pending)
        now = datetime.combine(today + timedelta(days=1), SYNC_AT, runner.zone)
    return lived, db, athlete, config


def _quiet_resync(db: Database, athlete: int, config: Config, now: datetime, lived: Lived) -> None:
    """A second sync with nothing new: no session may move or change, the feed stays byte-equal."""
    before = _snapshot(db, athlete)
    feed_before = config.feed_path.read_bytes()
    pipeline.sync(config, db, now=now + timedelta(minutes=10), sources=[])
    after = _snapshot(db, athlete)
    for uid, (start, sequence, kind) in after.items():
        old = before.get(uid)
        if old is None or old != (start, sequence, kind):
            lived.moved_without_data.append((now.date(), uid))
    lived.moved_without_data.extend((now.date(), uid) for uid in before if uid not in after)
    if config.feed_path.read_bytes() != feed_before:
        lived.feed_changed_without_data.append(now.date())


@dataclass(frozen=True)
class DayFacts:
    hard: bool
    long: bool
    race: bool
    end: time | None


def run_days(db: Database, athlete: int, zone: ZoneInfo) -> dict[date, list[DayFacts]]:
    """The runs as labelled in the end (what really happened), by the local day they started."""
    days: dict[date, list[DayFacts]] = {}
    with db.transaction() as session:
        for item in repo.labelled_activities(session, athlete):
            a, c = item.activity, item.classification
            if not a.is_run:
                continue
            start = a.start_utc.astimezone(zone)
            ends = start + timedelta(seconds=a.elapsed_s)
            race = a.workout_type == 1 or any(r.code in planning.RACE_REASONS for r in c.reasons)
            facts = DayFacts(
                c.counts_as_hard,
                c.label is Label.LONG,
                race,
                ends.time() if ends.date() == start.date() else None,
            )
            days.setdefault(start.date(), []).append(facts)
    return days


def _key(facts: Sequence[DayFacts]) -> bool:
    return any(f.hard or f.long or f.race for f in facts)


def allowed_days(
    monday: date, days: dict[date, list[DayFacts]], runner: Runner, races: dict[date, float]
) -> list[date]:
    """Days of the week where the rules allow a full session (defaults: no hard days hard)."""
    out = []
    for day in (monday + timedelta(days=i) for i in range(7)):
        today, tomorrow = days.get(day, []), days.get(day + timedelta(days=1), [])
        if _key(today) or _key(tomorrow) or day in races or day + timedelta(days=1) in races:
            continue
        if any(1 <= (day - r).days <= recovery_for(m) for r, m in races.items()):
            continue
        if any(f.end is None for f in today):  # a run past midnight leaves no time that day
            continue
        out.append(day)
    return out


def weekly_target(runner: Runner, monday: date, on_break: bool) -> int:
    target = 3 if runner.data["experience"] == "experienced" else 2
    for race in runner.data["races"]:
        day = date.fromisoformat(race["date"])
        if race["priority"] in "AB" and any(
            0 <= (day - (monday + timedelta(days=i))).days <= 13 for i in range(7)
        ):
            target = 1
    return min(target, 1) if on_break else target


def measure(runner: Runner, lived: Lived, db: Database, athlete: int) -> list[WeekReport]:
    zone = runner.zone
    days = run_days(db, athlete, zone)
    races = {d: 10_000.0 for d, facts in days.items() if any(f.race for f in facts)}
    for race in runner.data["races"]:
        races[date.fromisoformat(race["date"])] = float(race.get("distance_km") or 10) * 1000
    done_days = sorted({s.start.astimezone(zone).date() for s in lived.done})
    reports = []
    for monday in runner.mondays:
        report = WeekReport(runner.key, monday, notes=lived.week_notes.get(monday.isoformat(), ""))
        in_week = [s for s in lived.done if week_start(s.start.astimezone(zone).date()) == monday]
        report.placed = sum(s.kind == "full" for s in in_week)
        earlier = [d for d in done_days if d < monday]
        last_run = max((d for d in days if d < monday), default=None)
        on_break = (
            last_run is not None
            and (monday - last_run).days > 7
            and not any(monday <= d < monday + timedelta(days=7) for d in days)
        )
        target = weekly_target(runner, monday, on_break)
        report.allowed = max_legal(allowed_days(monday, days, runner, races), earlier, 2, target)
        for session in in_week:
            day = session.start.astimezone(zone).date()
            names = {e.name for e in session.exercises}
            if _key(days.get(day, [])) or _key(days.get(day + timedelta(days=1), [])):
                report.breaks.append(f"{day}: session on or the day before a hard/long run or race")
            if day in races or day + timedelta(days=1) in races:
                report.breaks.append(f"{day}: session on or the day before a race")
            for race, metres in races.items():
                rest = recovery_for(metres)
                if 0 <= (day - race).days <= rest:
                    report.breaks.append(f"{day}: strength {(day - race).days} days after a race")
                if 0 <= (day - race).days <= rest + 7 and (names & PLYO_NAMES or names & HEAVY_NAMES):
                    report.window_breaks.append(f"{day}: plyometrics or heavy leg work after a race")
        report.moved_without_data = [
            f"{d}: {uid}" for d, uid in lived.moved_without_data if week_start(d) == monday
        ]
        report.post_race_gap = _race_gap(races, done_days, monday, runner.mondays[-1] + timedelta(days=7))
        reports.append(report)
    return reports


def _race_gap(races: dict[date, float], done_days: Sequence[date], monday: date, end: date) -> str:
    """Days from the latest race up to this week to the first session after it ('>N': none yet)."""
    past = [r for r in races if r < monday + timedelta(days=7)]
    if not past:
        return "-"
    race = max(past)
    after = [d for d in done_days if d > race]
    return f"{(min(after) - race).days} d" if after else f">{(end - race).days} d"


def run_panel(workdir: Path, only: Sequence[str] = ()) -> tuple[list[WeekReport], dict[str, Lived]]:
    reports: list[WeekReport] = []
    lives: dict[str, Lived] = {}
    for runner in runners():
        if only and runner.key not in only:
            continue
        lived, db, athlete, _ = live(runner, workdir / runner.key)
        try:
            reports.extend(measure(runner, lived, db, athlete))
        finally:
            db.dispose()
        lives[runner.key] = lived
    return reports, lives
