"""Properties of the classifier over generated runs (hypothesis)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runstrong_sync.core.classify import RunSummary, classify
from runstrong_sync.core.domain import Label, Zones, ZoneSource, ZoneValue
from tests.runs import LTHR, ZONES, run_from_series, series

# easy < hard; long and hard are both key runs, neither easier than the other
RANK = {Label.EASY: 0, Label.HARD: 1, Label.LONG: 1}

segment = st.tuples(
    st.integers(min_value=60, max_value=20 * 60),  # seconds
    st.floats(min_value=1.2, max_value=5.5),  # m/s
    st.one_of(st.none(), st.floats(min_value=100, max_value=195)),  # bpm
)
segments = st.lists(segment, min_size=1, max_size=6).filter(lambda s: sum(x[0] for x in s) >= 10 * 60)
zone_sets = st.sampled_from(
    [
        ZONES,
        Zones(threshold_hr=ZoneValue(LTHR, ZoneSource.ESTIMATED, "test")),
        Zones(max_hr=ZoneValue(190, ZoneSource.CONFIG, "test")),
        Zones(threshold_speed_mps=ZoneValue(4.0, ZoneSource.CONFIG, "test")),
    ]
)
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(segments, zone_sets, st.integers(min_value=0, max_value=3))
def test_labels_are_deterministic(
    parts: list[tuple[int, float, float | None]], zones: Zones, wt: int
) -> None:
    t, hr, speed = series(parts)
    first = classify(run_from_series(t, hr, speed, workout_type=wt or None), zones)
    again = classify(run_from_series(list(t), list(hr), list(speed), workout_type=wt or None), zones)
    assert first == again


@FAST
@given(
    segments,
    zone_sets,
    st.integers(min_value=0, max_value=10**6),
    st.integers(min_value=60, max_value=30 * 60),
    st.floats(min_value=0.0, max_value=20.0),
)
def test_adding_hr_above_threshold_never_makes_a_run_easier(
    parts: list[tuple[int, float, float | None]], zones: Zones, at: int, length: int, above: float
) -> None:
    t, hr, speed = series(parts)
    before = classify(run_from_series(t, hr, speed), zones)
    start = at % len(t)
    raised = list(hr)
    level = LTHR + above if zones.threshold_hr else 190 * 0.9 + above
    for i in range(start, min(len(t), start + length)):
        current = raised[i]
        raised[i] = max(current, level) if current is not None else level
    after = classify(run_from_series(t, raised, speed), zones)
    assert RANK[after.label] >= RANK[before.label], (before, after)


@FAST
@given(
    st.floats(min_value=1.5, max_value=5.0),
    st.one_of(st.none(), st.floats(min_value=110, max_value=190)),
    st.integers(min_value=20, max_value=150),
    st.integers(min_value=1, max_value=60),
    zone_sets,
    st.lists(st.tuples(st.integers(20, 120), st.integers(1, 27)), max_size=8),
)
def test_a_longer_run_at_the_same_intensity_is_never_less_long(
    mps: float,
    bpm: float | None,
    minutes: int,
    extra: int,
    zones: Zones,
    past: list[tuple[int, int]],
) -> None:
    shorter = run_from_series(*series([(minutes * 60, mps, bpm)]))
    longer = run_from_series(*series([((minutes + extra) * 60, mps, bpm)]))
    start = shorter.start_utc.timestamp()
    history = [RunSummary(start - d * 86400.0, m * 60.0, m * 60.0 * 3.0, 3.0) for m, d in past]
    if classify(shorter, zones, history).label is Label.LONG:
        assert classify(longer, zones, history).label is Label.LONG
