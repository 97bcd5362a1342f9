"""Which HR and pace thresholds to classify with, and where each number came from. Pure."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from runstrong_sync.core.domain import Activity, Zones, ZoneSource, ZoneValue

HISTORY_DAYS = 90
MIN_USUAL_RUNS = 5  # fewer runs than this say nothing of the runner's usual
MAXIMAL_HR_ABOVE_USUAL = 1.12  # best 20-min HR this far above the usual mean HR: a hard effort
MAXIMAL_SPEED_ABOVE_USUAL = 1.15  # ... and the same for speed


def resolve_zones(
    *,
    max_hr: float | None = None,
    threshold_hr: float | None = None,
    resting_hr: float | None = None,
    threshold_speed_mps: float | None = None,
    strava: Zones | None = None,
    history: Sequence[Activity | RunEffort] = (),
) -> Zones:
    """Config first, then Strava's athlete zones, then estimates from the runner's own history."""
    configured = ConfiguredPeriod(None, max_hr, threshold_hr, resting_hr, threshold_speed_mps)
    return _combine(configured, strava or Zones(), estimate_zones(history))


def zones_from_strava(payload: dict[str, Any] | None) -> Zones:
    """Strava's ``GET /athlete/zones`` answer: five heart-rate zones (Endurance, Moderate, Tempo,
    Threshold, Anaerobic) as [min, max] bpm, the last one open (max -1). The Anaerobic zone starts
    where threshold ends, so its lower bound is taken as threshold HR; Strava gives no max HR."""
    if not payload:
        return Zones()
    heart_rate = payload.get("heart_rate")
    zones = heart_rate.get("zones") if isinstance(heart_rate, dict) else None
    if not isinstance(zones, list) or len(zones) != 5:
        return Zones()
    bounds = [
        float(z["min"]) for z in zones if isinstance(z, dict) and isinstance(z.get("min"), (int, float))
    ]
    if len(bounds) != 5:
        return Zones()
    if bounds != sorted(bounds) or not 100 <= bounds[4] <= 220:
        return Zones()
    custom = bool(heart_rate.get("custom_zones")) if isinstance(heart_rate, dict) else False
    method = (
        "lower bound of your custom Strava Anaerobic zone"
        if custom
        else "lower bound of Strava's default Anaerobic zone"
    )
    return Zones(threshold_hr=ZoneValue(bounds[4], ZoneSource.STRAVA, method))


@dataclass(frozen=True, slots=True)
class RunEffort:
    """What the estimates read of one run: a few numbers, so a long history takes little memory."""

    start_utc: datetime
    race: bool
    trainer: bool
    mean_hr: float | None
    usual_speed: float | None
    best_20min_hr: float | None
    best_20min_speed_mps: float | None
    max_credible_hr: float | None
    grade_adjusted: bool

    @classmethod
    def of(cls, activity: Activity) -> RunEffort | None:
        """The run's effort; None for other sports and runs without derived metrics."""
        derived = activity.derived
        if not activity.is_run or derived is None:
            return None
        return cls(
            start_utc=activity.start_utc,
            race=activity.workout_type == 1,
            trainer=activity.trainer,
            mean_hr=derived.mean_hr(),
            usual_speed=_usual_speed(activity),
            best_20min_hr=derived.best_20min_hr,
            best_20min_speed_mps=derived.best_20min_speed_mps,
            max_credible_hr=derived.max_credible_hr,
            grade_adjusted=derived.grade_adjusted,
        )


def run_efforts(history: Sequence[Activity | RunEffort]) -> list[RunEffort]:
    """The runs of ``history`` as efforts (efforts given are kept as they are)."""
    out = []
    for item in history:
        effort = item if isinstance(item, RunEffort) else RunEffort.of(item)
        if effort is not None:
            out.append(effort)
    return out


def estimate_zones(history: Sequence[Activity | RunEffort], at: datetime | None = None) -> Zones:
    """Estimates from the runs of the ``HISTORY_DAYS`` up to ``at`` (else up to the newest run).

    Only efforts that look maximal count (training rules 4b): a race, or a run whose best 20
    minutes are clearly above the runner's usual (HR ``MAXIMAL_HR_ABOVE_USUAL`` x, speed
    ``MAXIMAL_SPEED_ABOVE_USUAL`` x the median of their runs). An easy-only or short history gives
    no estimate at all; a single effort that is not a race gives a thin one (labels stay unsure).
    LTHR = 0.95 x best 20-min HR of those efforts (else 0.90 x their max HR), threshold speed =
    best 20-min (grade-adjusted) speed / 0.95, max HR = second-highest maximum of the efforts.
    """
    runs = run_efforts(history)
    if not runs:
        return Zones()
    end = at or max(a.start_utc for a in runs)
    recent = [a for a in runs if timedelta(0) <= end - a.start_utc <= timedelta(days=HISTORY_DAYS)]
    hr_efforts, speed_efforts = maximal_efforts(recent)
    max_hr = _estimate_max_hr(hr_efforts)
    threshold_hr = _estimate_lthr(hr_efforts, max_hr)
    threshold_speed = _estimate_threshold_speed(speed_efforts)
    return Zones(max_hr=max_hr, threshold_hr=threshold_hr, threshold_speed_mps=threshold_speed)


def maximal_efforts(runs: Sequence[RunEffort]) -> tuple[list[RunEffort], list[RunEffort]]:
    """The runs that look maximal by heart rate, and by speed: races, or clearly above usual."""
    usual_hr = _median([m for a in runs if (m := a.mean_hr)])
    usual_speed = _median([s for a in runs if not a.trainer and (s := a.usual_speed)])
    enough = len(runs) >= MIN_USUAL_RUNS
    hr_efforts: list[RunEffort] = []
    speed_efforts: list[RunEffort] = []
    for a in runs:
        race = a.race
        best_hr = a.best_20min_hr
        if best_hr and (race or (enough and usual_hr and best_hr >= MAXIMAL_HR_ABOVE_USUAL * usual_hr)):
            hr_efforts.append(a)
        best_speed = a.best_20min_speed_mps if not a.trainer else None
        if best_speed and (
            race or (enough and usual_speed and best_speed >= MAXIMAL_SPEED_ABOVE_USUAL * usual_speed)
        ):
            speed_efforts.append(a)
    return hr_efforts, speed_efforts


def _usual_speed(activity: Activity) -> float | None:
    derived = activity.derived
    if derived is not None and derived.speed_seconds:
        total = sum(derived.speed_seconds.values())
        return sum(level / 10 * s for level, s in derived.speed_seconds.items()) / total if total else None
    return activity.avg_speed_mps


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def _thin(efforts: Sequence[RunEffort]) -> bool:
    return len(efforts) < 2 and not any(a.race for a in efforts)


def _what(efforts: Sequence[RunEffort]) -> str:
    races = sum(a.race for a in efforts)
    others = len(efforts) - races
    parts = [f"{races} race{'s' * (races != 1)}"] if races else []
    if others:
        parts.append(f"{others} hard run{'s' * (others != 1)}")
    return " and ".join(parts)


def _estimate_max_hr(efforts: Sequence[RunEffort]) -> ZoneValue | None:
    maxima = sorted((a.max_credible_hr for a in efforts if a.max_credible_hr), reverse=True)
    if not maxima:
        return None
    pick = maxima[1] if len(maxima) >= 2 else maxima[0]  # a lone spike does not count
    which = "second-highest" if len(maxima) >= 2 else "highest"
    return ZoneValue(
        round(pick), ZoneSource.ESTIMATED, f"{which} 10-s HR of {_what(efforts)}", _thin(efforts)
    )


def _estimate_lthr(efforts: Sequence[RunEffort], max_hr: ZoneValue | None) -> ZoneValue | None:
    best = [a.best_20min_hr for a in efforts if a.best_20min_hr]
    if best:
        return ZoneValue(
            round(0.95 * max(best)),
            ZoneSource.ESTIMATED,
            f"0.95 x best 20-min HR of {_what(efforts)}",
            _thin(efforts),
        )
    if max_hr is not None:
        return ZoneValue(round(0.90 * max_hr.value), ZoneSource.ESTIMATED, "0.90 x estimated max HR", True)
    return None


def _estimate_threshold_speed(efforts: Sequence[RunEffort]) -> ZoneValue | None:
    best = [a.best_20min_speed_mps for a in efforts if a.best_20min_speed_mps]
    if not best:
        return None
    graded = any(a.grade_adjusted for a in efforts)
    what = "grade-adjusted speed" if graded else "speed"
    return ZoneValue(
        round(max(best) / 0.95, 3),
        ZoneSource.ESTIMATED,
        f"best 20-min {what} of {_what(efforts)} / 0.95",
        _thin(efforts),
    )


@dataclass(frozen=True, slots=True)
class ConfiguredPeriod:
    """Configured thresholds from ``since`` on (None: from the beginning)."""

    since: date | None
    max_hr: float | None = None
    threshold_hr: float | None = None
    resting_hr: float | None = None
    threshold_speed_mps: float | None = None


class ZoneTimeline:
    """The thresholds in force on each date (training rules 4b): configured values from the day
    they were set (the first ones also before), Strava's zones, and estimates per calendar month
    from the ``HISTORY_DAYS`` up to that month's end."""

    def __init__(
        self,
        configured: Sequence[ConfiguredPeriod],
        strava: Zones | None,
        history: Sequence[Activity | RunEffort],
    ) -> None:
        self._configured = sorted(configured, key=lambda p: p.since or date.min)
        self._strava = strava or Zones()
        self._history = run_efforts(history)
        self._estimates: dict[tuple[int, int], Zones] = {}

    def configured_on(self, day: date) -> ConfiguredPeriod:
        chosen = self._configured[0] if self._configured else ConfiguredPeriod(None)
        for period in self._configured:
            if period.since is None or period.since <= day:
                chosen = period
        return chosen

    def estimated_on(self, day: date) -> Zones:
        key = (day.year, day.month)
        if key not in self._estimates:
            month_end = datetime(day.year + day.month // 12, day.month % 12 + 1, 1, tzinfo=UTC)
            self._estimates[key] = estimate_zones(self._history, at=month_end - timedelta(microseconds=1))
        return self._estimates[key]

    def at(self, when: datetime) -> Zones:
        day = when.astimezone(UTC).date()
        c = self.configured_on(day)
        return _combine(c, self._strava, self.estimated_on(day))

    def history(self) -> list[tuple[date, Zones]]:
        """Each month with runs where the thresholds changed: (first day of the month, zones)."""
        months = sorted({(a.start_utc.year, a.start_utc.month) for a in self._history})
        days = sorted({date(y, m, 1) for y, m in months} | {p.since for p in self._configured if p.since})
        out: list[tuple[date, Zones]] = []
        for day in days:
            zones = self.at(datetime(day.year, day.month, day.day, tzinfo=UTC))
            if not out or out[-1][1] != zones:
                out.append((day, zones))
        return out


def _combine(c: ConfiguredPeriod, strava: Zones, estimated: Zones) -> Zones:
    def pick(configured: float | None, *fallbacks: ZoneValue | None, method: str) -> ZoneValue | None:
        if configured is not None:
            return ZoneValue(float(configured), ZoneSource.CONFIG, method)
        return next((f for f in fallbacks if f is not None), None)

    return Zones(
        max_hr=pick(c.max_hr, strava.max_hr, estimated.max_hr, method="athlete.max_hr in the configuration"),
        threshold_hr=pick(
            c.threshold_hr,
            strava.threshold_hr,
            estimated.threshold_hr,
            method="athlete.threshold_hr in the configuration",
        ),
        resting_hr=pick(
            c.resting_hr, strava.resting_hr, None, method="athlete.resting_hr in the configuration"
        ),
        threshold_speed_mps=pick(
            c.threshold_speed_mps,
            strava.threshold_speed_mps,
            estimated.threshold_speed_mps,
            method="athlete.threshold_pace in the configuration",
        ),
    )
