"""Domain types shared by every part of runstrong-sync.

Glossary:
    activity   one recorded workout (a run, a ride, a strength session...) from any source.
    lap        a part of an activity as the device or the runner split it.
    derived    numbers reduced from the per-second series (time in HR and speed bands, longest
               continuous stretch above a level, work bouts); enough to relabel without the series.
    label      easy / hard / long for runs, other for every other sport, with reasons and confidence.
    session    one planned strength session, with a stable UID and a SEQUENCE raised on change.

Everything here is plain data: no I/O, no database, no network.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

RUN_SPORTS = frozenset({"run", "trail_run", "virtual_run", "treadmill_run"})
STRENGTH_SPORTS = frozenset({"strength", "weight_training", "workout", "crossfit"})


class Label(enum.StrEnum):
    EASY = "easy"
    HARD = "hard"
    LONG = "long"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Lap:
    """One lap; offsets are seconds from the activity start."""

    start_offset_s: float
    elapsed_s: float
    timer_s: float | None = None
    distance_m: float | None = None
    avg_hr: float | None = None
    max_hr: float | None = None
    avg_speed_mps: float | None = None
    intensity: str | None = None  # FIT lap intensity: active, rest, warmup, cooldown, recovery
    trigger: str | None = None  # FIT lap_trigger: manual, time, distance, position_lap...


@dataclass(frozen=True, slots=True)
class WorkBout:
    """A stretch clearly faster than the activity's own median speed (zone independent)."""

    start_offset_s: float
    duration_s: float
    mean_speed_mps: float
    mean_hr: float | None = None


@dataclass(frozen=True, slots=True)
class DerivedMetrics:
    """Per-second series reduced to what the classifier needs, whatever the zones.

    Histograms are sparse: key = level, value = seconds spent at that level.
    ``*_run_at_or_above`` maps a level to the longest continuous stretch (seconds) at or above it.
    HR levels are whole bpm; speed levels are tenths of m/s (key 35 = 3.5 m/s). With altitude the
    speeds are grade-adjusted (``grade_adjusted``): the flat speed of the same energy cost.
    """

    sample_s: float = 0.0
    moving_s: float = 0.0
    hr_valid_s: float = 0.0
    hr_artifacts: int = 0
    speed_valid_s: float = 0.0
    gps_jumps: int = 0
    clock_jumps: int = 0
    pauses_s: float = 0.0
    hr_seconds: dict[int, float] = field(default_factory=dict)
    hr_run_at_or_above: dict[int, float] = field(default_factory=dict)
    speed_seconds: dict[int, float] = field(default_factory=dict)
    speed_run_at_or_above: dict[int, float] = field(default_factory=dict)
    best_20min_hr: float | None = None
    best_20min_speed_mps: float | None = None
    max_credible_hr: float | None = None
    bouts: tuple[WorkBout, ...] = ()
    grade_adjusted: bool = False  # the speed figures are grade-adjusted (altitude was recorded)
    ascent_m: float = 0.0
    descent_m: float = 0.0

    @property
    def hr_coverage(self) -> float:
        return self.hr_valid_s / self.moving_s if self.moving_s > 0 else 0.0

    def seconds_hr_at_or_above(self, bpm: float) -> float:
        return sum(s for level, s in self.hr_seconds.items() if level >= bpm)

    def longest_hr_at_or_above(self, bpm: float) -> float:
        return _longest_at_or_above(self.hr_run_at_or_above, bpm)

    def seconds_speed_at_or_above(self, mps: float) -> float:
        return sum(s for level, s in self.speed_seconds.items() if level / 10 >= mps)

    def longest_speed_at_or_above(self, mps: float) -> float:
        return _longest_at_or_above(self.speed_run_at_or_above, mps * 10)

    def mean_hr(self) -> float | None:
        total = sum(self.hr_seconds.values())
        if total <= 0:
            return None
        return sum(level * s for level, s in self.hr_seconds.items()) / total


def _longest_at_or_above(curve: dict[int, float], level: float) -> float:
    """The curve is non-increasing in level; take the smallest stored level >= ``level``."""
    candidates = [lvl for lvl in curve if lvl >= level]
    return curve[min(candidates)] if candidates else 0.0


@dataclass(frozen=True, slots=True)
class Activity:
    """One activity as a connector delivers it (before storage gives it an id)."""

    source: str  # connector name: fit, strava, gpx, tcx
    source_ref: str  # file path, or Strava activity id
    external_id: str  # identity within the source: dedupe key
    sport: str  # normalised: run, trail_run, virtual_run, treadmill_run, ride, swim, strength...
    start_utc: datetime
    utc_offset_s: int
    elapsed_s: float
    moving_s: float
    distance_m: float | None = None
    name: str | None = None
    avg_hr: float | None = None
    max_hr: float | None = None
    avg_speed_mps: float | None = None
    workout_type: int | None = None  # Strava: 0 default, 1 race, 2 long run, 3 workout
    training_effect: float | None = None
    anaerobic_training_effect: float | None = None
    trainer: bool = False  # treadmill / indoor
    has_gps: bool = False
    laps: tuple[Lap, ...] = ()
    derived: DerivedMetrics | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def is_run(self) -> bool:
        return self.sport in RUN_SPORTS

    @property
    def is_strength(self) -> bool:
        return self.sport in STRENGTH_SPORTS

    @property
    def start_local(self) -> datetime:
        return self.start_utc.astimezone(timezone(timedelta(seconds=self.utc_offset_s)))

    @property
    def local_date(self) -> date:
        return self.start_local.date()


@dataclass(frozen=True, slots=True)
class Reason:
    code: str  # stable, machine readable: hr_above_threshold, workout_type_race...
    text: str  # a sentence a runner understands


@dataclass(frozen=True, slots=True)
class Classification:
    label: Label
    confidence: float
    reasons: tuple[Reason, ...]
    overridden: bool = False

    @property
    def uncertain(self) -> bool:
        return self.label is not Label.OTHER and self.confidence < 0.5

    @property
    def counts_as_hard(self) -> bool:
        """The planner treats an uncertain run as hard: the costlier mistake is the other one."""
        return self.label is Label.HARD or (self.label is Label.EASY and self.uncertain)


class ZoneSource(enum.StrEnum):
    CONFIG = "config"
    STRAVA = "strava"
    ESTIMATED = "estimated"
    DEFAULT = "default"


@dataclass(frozen=True, slots=True)
class ZoneValue:
    value: float
    source: ZoneSource
    method: str  # how it was obtained, for `runstrong-sync zones`
    thin: bool = False  # an estimate from too little (one effort, a short history): labels stay unsure


@dataclass(frozen=True, slots=True)
class Zones:
    max_hr: ZoneValue | None = None
    threshold_hr: ZoneValue | None = None
    resting_hr: ZoneValue | None = None
    threshold_speed_mps: ZoneValue | None = None


@dataclass(frozen=True, slots=True)
class LabelledActivity:
    """A stored activity with its database id and its current classification."""

    id: int
    activity: Activity
    classification: Classification


class SyncOutcome(enum.StrEnum):
    """How one sync run of a source (or of the whole pipeline) ended; stored in sync_runs.outcome."""

    RUNNING = "running"  # not finished (yet, or the process died: the next run says interrupted)
    OK = "ok"
    REJECTED = "rejected"  # done, some inputs set aside
    PARTIAL = "partial"  # the plan and feed went out, a source failed
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # a stop was asked for, or the process ended mid-run
    REAUTHORIZE = "reauthorize"  # the source needs the user to authorize again
    RATE_LIMITED = "rate_limited"

    @property
    def published(self) -> bool:
        """The plan and the feed went out."""
        return self in (SyncOutcome.OK, SyncOutcome.REJECTED, SyncOutcome.PARTIAL)


class SessionStatus(enum.StrEnum):
    PLANNED = "planned"
    DONE = "done"
    MISSED = "missed"


@dataclass(frozen=True, slots=True)
class Exercise:
    name: str
    group: str  # core, glutes, hamstrings, quads, calves, single_leg, plyometrics
    sets: int
    reps: int | None = None  # per side for single-leg work
    hold_s: int | None = None
    rest_s: int = 60
    equipment: str = "bodyweight"
    cue: str = ""
    per_side: bool = False

    @property
    def dose(self) -> str:
        per = " per side" if self.per_side else ""
        if self.hold_s:
            return f"{self.sets} x {self.hold_s} s{per}"
        return f"{self.sets} x {self.reps}{per}"


@dataclass(frozen=True, slots=True)
class StrengthSession:
    uid: str
    start: datetime  # aware, in the athlete's time zone
    duration_min: int
    focus: tuple[str, ...]
    exercises: tuple[Exercise, ...]
    why: str
    kind: str = "full"  # full, or light (core and hips only)
    status: SessionStatus = SessionStatus.PLANNED
    sequence: int = 0
    changed_at: datetime | None = None  # the last real change: DTSTAMP and LAST-MODIFIED

    def same_content(self, other: StrengthSession) -> bool:
        """Equal in everything a calendar shows; SEQUENCE rises only when this is False."""
        return (
            self.start == other.start
            and self.duration_min == other.duration_min
            and self.focus == other.focus
            and self.exercises == other.exercises
            and self.why == other.why
            and self.kind == other.kind
            and self.status == other.status
        )

    @property
    def end(self) -> datetime:
        """Start plus the duration in elapsed time, also across a DST change."""
        elapsed = self.start.astimezone(UTC) + timedelta(minutes=self.duration_min)
        return elapsed.astimezone(self.start.tzinfo)

    @property
    def title(self) -> str:
        if self.kind != "full":  # its focus is core and hips: said once
            return f"Core & hips ({self.duration_min} min)"
        return f"Strength: {' & '.join(self.focus)} ({self.duration_min} min)"
