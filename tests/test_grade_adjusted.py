"""Grade-adjusted pace: hills judged by effort, not by speed (training rules 4b)."""

from __future__ import annotations

import pytest

from runstrong_sync.core.classify import classify
from runstrong_sync.core.derive import derive_metrics, minetti_cost
from runstrong_sync.core.domain import Label
from tests.runs import LTHR, ZONES, run_from_series

THRESHOLD = 4.0  # m/s, as ZONES configures
EASY_HR = 0.80 * LTHR


def _mountain_run() -> tuple[list[float], list[float | None], list[float | None], list[float | None]]:
    """An easy run over two climbs of 8 %: 12 min up, then 10 min down at threshold speed."""
    t: list[float] = []
    hr: list[float | None] = []
    speed: list[float | None] = []
    alt: list[float | None] = []
    height = 500.0

    def stretch(seconds: int, mps: float, grade: float) -> None:
        nonlocal height
        for _ in range(seconds):
            t.append(float(len(t)))
            hr.append(EASY_HR)
            speed.append(mps)
            height += mps * grade
            alt.append(round(height, 1))

    flat = 0.74 * THRESHOLD
    stretch(300, flat, 0.0)
    for _ in range(2):
        stretch(720, flat * minetti_cost(0.0) / minetti_cost(0.08), 0.08)
        stretch(600, 1.02 * THRESHOLD, -0.08)
    stretch(300, flat, 0.0)
    return t, hr, speed, alt


def test_the_same_hilly_run_is_hard_by_raw_pace_and_easy_by_grade_adjusted_pace() -> None:
    t, hr, speed, alt = _mountain_run()
    flat = run_from_series(t, hr, speed)
    hilly = run_from_series(t, hr, speed)
    from dataclasses import replace

    hilly = replace(hilly, derived=derive_metrics(t, hr, speed, (), alt))
    assert flat.derived is not None and not flat.derived.grade_adjusted
    assert hilly.derived is not None and hilly.derived.grade_adjusted
    assert hilly.derived.ascent_m == pytest.approx(2 * 720 * 0.74 * THRESHOLD * 0.08 * 3.6 / 5.43, rel=0.1)
    without = classify(flat, ZONES)
    assert without.label is Label.HARD  # 20 min downhill at threshold speed
    assert "threshold pace" in without.reasons[0].text
    with_altitude = classify(hilly, ZONES)
    assert with_altitude.label is Label.EASY, with_altitude
    assert with_altitude.confidence >= 0.5
    assert any("grade-adjusted pace" in r.text for r in with_altitude.reasons)


def test_minetti_cost_and_the_flat() -> None:
    assert minetti_cost(0.0) == pytest.approx(3.6)
    assert minetti_cost(0.10) / 3.6 == pytest.approx(1.66, abs=0.01)  # uphill costs more
    assert minetti_cost(-0.10) / 3.6 == pytest.approx(0.60, abs=0.01)  # downhill less, so slower GAP
    assert minetti_cost(-0.9) == minetti_cost(-0.45)  # held within the equation's range


def test_barometric_noise_on_the_flat_changes_nothing() -> None:
    t = [float(i) for i in range(3000)]
    hr: list[float | None] = [150.0] * 3000
    speed: list[float | None] = [3.0] * 3000
    noisy: list[float | None] = [100.0 + (0.6 if i % 7 < 3 else -0.6) for i in range(3000)]
    plain = derive_metrics(t, hr, speed)
    graded = derive_metrics(t, hr, speed, (), noisy)
    assert graded.grade_adjusted
    assert graded.best_20min_speed_mps == pytest.approx(plain.best_20min_speed_mps, rel=0.01)
    assert max(graded.speed_seconds, key=lambda k: graded.speed_seconds[k]) == 30
