"""Which HR and pace thresholds to classify with, and where each number came from. Pure."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from runstrong_sync.domain import Activity, Zones, ZoneSource, ZoneValue

HISTORY_DAYS = 90


def resolve_zones(
    *,
    max_hr: float | None = None,
    threshold_hr: float | None = None,
    resting_hr: float | None = None,
    threshold_speed_mps: float | None = None,
    strava: Zones | None = None,
    history: Sequence[Activity] = (),
) -> Zones:
    """Config first, then Strava's athlete zones, then estimates from the runner's own history."""
    estimated = estimate_zones(history)
    strava = strava or Zones()

    def pick(configured: float | None, *fallbacks: ZoneValue | None, method: str) -> ZoneValue | None:
        if configured is not None:
            return ZoneValue(float(configured), ZoneSource.CONFIG, method)
        return next((f for f in fallbacks if f is not None), None)

    return Zones(
        max_hr=pick(max_hr, strava.max_hr, estimated.max_hr, method="athlete.max_hr in the configuration"),
        threshold_hr=pick(
            threshold_hr,
            strava.threshold_hr,
            estimated.threshold_hr,
            method="athlete.threshold_hr in the configuration",
        ),
        resting_hr=pick(
            resting_hr, strava.resting_hr, None, method="athlete.resting_hr in the configuration"
        ),
        threshold_speed_mps=pick(
            threshold_speed_mps,
            strava.threshold_speed_mps,
            estimated.threshold_speed_mps,
            method="athlete.threshold_pace in the configuration",
        ),
    )


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


def estimate_zones(history: Sequence[Activity]) -> Zones:
    """Estimates from recent runs: HRmax from the second-highest credible maximum (a lone spike
    does not count), LTHR as 0.95 x the best 20-minute HR (else 0.90 x HRmax), threshold speed as
    the best 20-minute speed / 0.95."""
    runs = [a for a in history if a.is_run and a.derived is not None]
    if not runs:
        return Zones()
    newest = max(a.start_utc for a in runs)
    recent = [a for a in runs if (newest - a.start_utc).days <= HISTORY_DAYS]
    maxima = sorted(
        (a.derived.max_credible_hr for a in recent if a.derived and a.derived.max_credible_hr), reverse=True
    )
    max_hr = None
    if len(maxima) >= 2:
        max_hr = ZoneValue(
            round(maxima[1]), ZoneSource.ESTIMATED, f"second-highest 10-s HR of {len(maxima)} runs"
        )
    best_hr = [a.derived.best_20min_hr for a in recent if a.derived and a.derived.best_20min_hr]
    threshold_hr = None
    if best_hr and max(best_hr) > 0:
        threshold_hr = ZoneValue(round(0.95 * max(best_hr)), ZoneSource.ESTIMATED, "0.95 x best 20-min HR")
    elif max_hr is not None:
        threshold_hr = ZoneValue(round(0.90 * max_hr.value), ZoneSource.ESTIMATED, "0.90 x estimated max HR")
    best_speed = [
        a.derived.best_20min_speed_mps
        for a in recent
        if a.derived and a.derived.best_20min_speed_mps and not a.trainer
    ]
    threshold_speed = None
    if len(best_speed) >= 3:
        threshold_speed = ZoneValue(
            round(max(best_speed) / 0.95, 3), ZoneSource.ESTIMATED, "best 20-min speed / 0.95"
        )
    elif len(recent) >= 5:
        speeds = [a.avg_speed_mps for a in recent if a.avg_speed_mps]
        if speeds:
            threshold_speed = ZoneValue(
                round(statistics.median(speeds) * 1.2, 3), ZoneSource.ESTIMATED, "1.2 x median run speed"
            )
    return Zones(max_hr=max_hr, threshold_hr=threshold_hr, threshold_speed_mps=threshold_speed)
