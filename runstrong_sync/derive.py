"""Reduce per-second HR/speed series to DerivedMetrics, whatever the source (FIT, Strava streams).

The series themselves are not kept: relabelling under new zones only needs these numbers.
Pure computation, no I/O.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from runstrong_sync.domain import DerivedMetrics, WorkBout

BIN_S = 10  # bin width for smoothing; continuous-stretch curves have this resolution
MAX_GAP_S = 10.0  # a longer gap between samples is a pause, not time at the last value
CLOCK_JUMP_S = 3600.0
MOVING_MPS = 0.5
MAX_CREDIBLE_MPS = 12.0  # faster than any runner: a GPS jump
MIN_HR, MAX_HR = 30, 230  # outside: a sensor artefact (0 and 255 are common fill values)
HR_SPIKE_BPM = 30  # a jump this large against the local median is a spike
BOUT_FACTOR = 1.12  # a work bout is this much faster than the run's own median speed
MIN_BOUT_S = 30


def derive_metrics(
    timestamps: Sequence[float | None],
    heart_rate: Sequence[float | None],
    speed: Sequence[float | None],
    distance: Sequence[float | None] = (),
) -> DerivedMetrics:
    """``timestamps`` in seconds (any epoch); the other series are aligned with it."""
    rows = _clean_rows(timestamps, heart_rate, speed, distance)
    if len(rows) < 2:
        return DerivedMetrics()
    gps_jumps = rows.gps_jumps
    clock_jumps = rows.clock_jumps

    sample_s = moving_s = hr_valid_s = speed_valid_s = pauses_s = 0.0
    hr_seconds: dict[int, float] = {}
    speed_seconds: dict[int, float] = {}
    bins_hr: dict[int, list[float]] = {}
    bins_speed: dict[int, list[float]] = {}
    t0 = rows.t[0]
    for i in range(len(rows.t) - 1):
        dt = rows.t[i + 1] - rows.t[i]
        if dt <= 0:
            continue
        if dt > MAX_GAP_S:
            pauses_s += dt
            dt = 1.0  # the sample itself still stands for a second
        sample_s += dt
        spd = rows.speed[i]
        moving = spd is None or spd >= MOVING_MPS
        if not moving:
            continue
        moving_s += dt
        b = int((rows.t[i] - t0) // BIN_S)
        hr = rows.hr[i]
        if hr is not None:
            hr_valid_s += dt
            level = round(hr)
            hr_seconds[level] = hr_seconds.get(level, 0.0) + dt
            bins_hr.setdefault(b, []).append(hr)
        if spd is not None:
            speed_valid_s += dt
            level = round(spd * 10)
            speed_seconds[level] = speed_seconds.get(level, 0.0) + dt
            bins_speed.setdefault(b, []).append(spd)

    n_bins = int((rows.t[-1] - t0) // BIN_S) + 1
    hr_bins = _bin_means(bins_hr, n_bins)
    speed_bins = _bin_means(bins_speed, n_bins)
    return DerivedMetrics(
        sample_s=sample_s,
        moving_s=moving_s,
        hr_valid_s=hr_valid_s,
        hr_artifacts=rows.hr_artifacts,
        speed_valid_s=speed_valid_s,
        gps_jumps=gps_jumps,
        clock_jumps=clock_jumps,
        pauses_s=pauses_s,
        hr_seconds=hr_seconds,
        hr_run_at_or_above=_longest_runs(hr_bins, scale=1.0),
        speed_seconds=speed_seconds,
        speed_run_at_or_above=_longest_runs(speed_bins, scale=10.0),
        best_20min_hr=_best_window_mean(hr_bins, 20 * 60 // BIN_S),
        best_20min_speed_mps=_best_window_mean(speed_bins, 20 * 60 // BIN_S),
        max_credible_hr=max((v for v in hr_bins if v is not None), default=None),
        bouts=_work_bouts(speed_bins, hr_bins),
    )


class _Rows:
    __slots__ = ("clock_jumps", "gps_jumps", "hr", "hr_artifacts", "speed", "t")

    def __init__(self) -> None:
        self.t: list[float] = []
        self.hr: list[float | None] = []
        self.speed: list[float | None] = []
        self.hr_artifacts = 0
        self.gps_jumps = 0
        self.clock_jumps = 0

    def __len__(self) -> int:
        return len(self.t)


def _clean_rows(
    timestamps: Sequence[float | None],
    heart_rate: Sequence[float | None],
    speed: Sequence[float | None],
    distance: Sequence[float | None],
) -> _Rows:
    rows = _Rows()
    last_t: float | None = None
    last_dist: float | None = None
    behind = False  # the clock ran backwards and has not caught up yet
    for i, t in enumerate(timestamps):
        if t is None:
            continue
        if last_t is not None and t < last_t:
            rows.clock_jumps += int(not behind)  # one jump, however many samples it hides
            behind = True
            continue  # drop the sample until the clock passes the last kept one, keep the order
        behind = False
        if last_t is not None and t - last_t > CLOCK_JUMP_S:
            rows.clock_jumps += 1
        hr = heart_rate[i] if i < len(heart_rate) else None
        if hr is not None and not (MIN_HR <= hr <= MAX_HR):
            rows.hr_artifacts += 1
            hr = None
        spd = speed[i] if i < len(speed) else None
        dist = distance[i] if i < len(distance) else None
        if spd is None and dist is not None and last_dist is not None and last_t is not None and t > last_t:
            spd = max(0.0, (dist - last_dist) / (t - last_t))
        if spd is not None and (spd < 0 or spd > MAX_CREDIBLE_MPS):
            rows.gps_jumps += 1
            spd = None
        rows.t.append(t)
        rows.hr.append(hr)
        rows.speed.append(spd)
        last_t = t
        if dist is not None:
            last_dist = dist
    _drop_hr_spikes(rows)
    return rows


def _drop_hr_spikes(rows: _Rows) -> None:
    """A reading far from the median of its neighbours is an optical-sensor spike."""
    hr = rows.hr
    for i, value in enumerate(hr):
        if value is None:
            continue
        window = [v for v in hr[max(0, i - 5) : i + 6] if v is not None]
        if len(window) >= 5 and abs(value - statistics.median(window)) > HR_SPIKE_BPM:
            hr[i] = None
            rows.hr_artifacts += 1


def _bin_means(bins: dict[int, list[float]], n_bins: int) -> list[float | None]:
    return [statistics.fmean(bins[b]) if b in bins else None for b in range(n_bins)]


def _longest_runs(values: list[float | None], scale: float) -> dict[int, float]:
    """For every level, the longest stretch of bins whose value is at or above it.

    One pass with a monotonic stack: each bin's value is the minimum over the widest
    interval around it, so that interval's width is a candidate for all levels up to it.
    """
    best: dict[int, float] = {}
    levels = [int(v * scale) if v is not None else -1 for v in values]
    stack: list[int] = []
    n = len(levels)
    left = [0] * n
    for i in range(n):
        while stack and levels[stack[-1]] >= levels[i]:
            stack.pop()
        left[i] = stack[-1] + 1 if stack else 0
        stack.append(i)
    stack.clear()
    for i in range(n - 1, -1, -1):
        while stack and levels[stack[-1]] >= levels[i]:
            stack.pop()
        right = stack[-1] - 1 if stack else n - 1
        stack.append(i)
        if levels[i] < 0:
            continue
        width = (right - left[i] + 1) * BIN_S
        if width > best.get(levels[i], 0.0):
            best[levels[i]] = float(width)
    # Make the curve non-increasing: a stretch at or above 160 is also at or above 150.
    running = 0.0
    for level in sorted(best, reverse=True):
        running = max(running, best[level])
        best[level] = running
    return best


def _best_window_mean(values: list[float | None], window: int) -> float | None:
    present = [v for v in values if v is not None]
    if len(present) < window:
        return None
    best: float | None = None
    total = 0.0
    count = 0
    for i, v in enumerate(values):
        if v is not None:
            total += v
            count += 1
        if i >= window:
            old = values[i - window]
            if old is not None:
                total -= old
                count -= 1
        if i >= window - 1 and count >= window * 0.9:
            mean = total / count
            best = mean if best is None or mean > best else best
    return best


def _work_bouts(speed: list[float | None], hr: list[float | None]) -> tuple[WorkBout, ...]:
    moving = [v for v in speed if v is not None and v >= MOVING_MPS]
    if len(moving) < 6:
        return ()
    cutoff = statistics.median(moving) * BOUT_FACTOR
    bouts: list[WorkBout] = []
    start: int | None = None
    for i in range(len(speed) + 1):
        fast = i < len(speed) and (speed[i] or 0.0) >= cutoff
        if fast and start is None:
            start = i
        elif not fast and start is not None:
            if (i - start) * BIN_S >= MIN_BOUT_S:
                bout_speed = [v for v in speed[start:i] if v is not None]
                bout_hr = [v for v in hr[start:i] if v is not None]
                bouts.append(
                    WorkBout(
                        start_offset_s=float(start * BIN_S),
                        duration_s=float((i - start) * BIN_S),
                        mean_speed_mps=statistics.fmean(bout_speed),
                        mean_hr=statistics.fmean(bout_hr) if bout_hr else None,
                    )
                )
            start = None
    return tuple(bouts)
