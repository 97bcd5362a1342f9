"""Runs built from per-second series, for classifier tests that need no FIT file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

from runstrong_sync.core.derive import derive_metrics
from runstrong_sync.core.domain import Activity, Lap, Zones, ZoneSource, ZoneValue

START = datetime(2024, 5, 4, 7, 30, tzinfo=UTC)
LTHR = 170.0
ZONES = Zones(
    max_hr=ZoneValue(190, ZoneSource.CONFIG, "test"),
    threshold_hr=ZoneValue(LTHR, ZoneSource.CONFIG, "test"),
    threshold_speed_mps=ZoneValue(4.0, ZoneSource.CONFIG, "test"),
)

Segment = tuple[int, float, float | None]  # seconds, speed m/s, HR bpm (None: no reading)


def series(segments: Sequence[Segment]) -> tuple[list[float], list[float | None], list[float | None]]:
    t: list[float] = []
    hr: list[float | None] = []
    speed: list[float | None] = []
    for seconds, mps, bpm in segments:
        for _ in range(seconds):
            t.append(float(len(t)))
            speed.append(mps)
            hr.append(bpm)
    return t, hr, speed


def run_from_series(
    t: Sequence[float],
    hr: Sequence[float | None],
    speed: Sequence[float | None],
    *,
    distance: Sequence[float | None] = (),
    laps: tuple[Lap, ...] = (),
    sport: str = "run",
    has_gps: bool = True,
    start: datetime = START,
    **fields: object,
) -> Activity:
    derived = derive_metrics(t, hr, speed, distance)
    moving = derived.moving_s
    known = [s for s in speed if s is not None]
    total = sum(known) if known else None
    activity = Activity(
        source="test",
        source_ref="test",
        external_id=f"test-{start.isoformat()}",
        sport=sport,
        start_utc=start,
        utc_offset_s=0,
        elapsed_s=(t[-1] - t[0]) if t else 0.0,
        moving_s=moving,
        distance_m=total,
        avg_speed_mps=(total / len(known)) if total and known else None,
        trainer=not has_gps,
        has_gps=has_gps,
        laps=laps,
        derived=derived,
    )
    return replace(activity, **fields)  # type: ignore[arg-type]


def run(segments: Sequence[Segment], **kwargs: object) -> Activity:
    t, hr, speed = series(segments)
    return run_from_series(t, hr, speed, **kwargs)  # type: ignore[arg-type]
