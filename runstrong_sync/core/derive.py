"""Reduce per-second HR/speed series to DerivedMetrics, whatever the source (FIT, Strava streams).

The series themselves are not kept: relabelling under new zones only needs these numbers.
Pure computation, no I/O.
"""

from __future__ import annotations

import bisect
import itertools
import statistics
from collections.abc import Sequence

from runstrong_sync.core.domain import DerivedMetrics, WorkBout

BIN_S = 10  # bin width for smoothing; continuous-stretch curves have this resolution
MAX_GAP_S = 10.0  # a longer gap between samples is a pause, not time at the last value
CLOCK_JUMP_S = 3600.0
MOVING_MPS = 0.5
MAX_CREDIBLE_MPS = 12.0  # faster than any runner: a GPS jump
MIN_HR, MAX_HR = 30, 230  # outside: a sensor artefact (0 and 255 are common fill values)
HR_SPIKE_BPM = 30  # a jump this large against the local median is a spike
BOUT_FACTOR = 1.12  # a work bout is this much faster than the run's own median speed
MIN_BOUT_S = 30
MIN_ALT_M, MAX_ALT_M = -500.0, 9000.0  # outside: a fill value, not an altitude
ALT_SMOOTH_BINS = 3  # altitude smoothed over 30 s before gradients are taken
GRADE_SPAN_BINS = 3  # gradient over 60-70 s of running
MIN_GRADE_DISTANCE_M = 20.0  # less distance than this: standing, no gradient
MAX_GRADE = 0.45  # Minetti's equation holds within +-45 %


def derive_metrics(
    timestamps: Sequence[float | None],
    heart_rate: Sequence[float | None],
    speed: Sequence[float | None],
    distance: Sequence[float | None] = (),
    altitude: Sequence[float | None] = (),
) -> DerivedMetrics:
    """``timestamps`` in seconds (any epoch); the other series are aligned with it.

    With ``altitude`` (metres) the speed figures are grade-adjusted (training rules 4b).
    """
    rows = _clean_rows(timestamps, heart_rate, speed, distance, altitude)
    if len(rows) < 2:
        return DerivedMetrics()
    acc = _accumulate(rows)
    n_bins = int((rows.t[-1] - rows.t[0]) // BIN_S) + 1
    hr_bins = _bin_means(acc.bins_hr, n_bins)
    factors, ascent, descent = _grade_factors(acc.bins_alt, acc.bins_dist, n_bins)
    speed_seconds = _speed_histogram(acc.samples, factors)
    speed_bins = _bin_means(acc.bins_speed, n_bins)
    if factors is not None:
        speed_bins = [v * factors[b] if v is not None else None for b, v in enumerate(speed_bins)]
    return DerivedMetrics(
        sample_s=acc.sample_s,
        moving_s=acc.moving_s,
        hr_valid_s=acc.hr_valid_s,
        hr_artifacts=rows.hr_artifacts,
        speed_valid_s=acc.speed_valid_s,
        gps_jumps=rows.gps_jumps,
        clock_jumps=rows.clock_jumps,
        pauses_s=acc.pauses_s,
        hr_seconds=acc.hr_seconds,
        hr_run_at_or_above=_longest_runs(hr_bins, scale=1.0),
        speed_seconds=speed_seconds,
        speed_run_at_or_above=_longest_runs(speed_bins, scale=10.0),
        best_20min_hr=_best_window_mean(hr_bins, 20 * 60 // BIN_S),
        best_20min_speed_mps=_best_window_mean(speed_bins, 20 * 60 // BIN_S),
        max_credible_hr=max((v for v in hr_bins if v is not None), default=None),
        bouts=_work_bouts(speed_bins, hr_bins),
        grade_adjusted=factors is not None,
        ascent_m=round(ascent, 1),
        descent_m=round(descent, 1),
    )


class _Totals:
    """Sums over the samples, one pass: time, HR histogram, 10-s bins of HR, speed and altitude."""

    __slots__ = (
        "bins_alt",
        "bins_dist",
        "bins_hr",
        "bins_speed",
        "hr_seconds",
        "hr_valid_s",
        "moving_s",
        "pauses_s",
        "sample_s",
        "samples",
        "speed_valid_s",
    )

    def __init__(self) -> None:
        self.sample_s = self.moving_s = self.hr_valid_s = self.speed_valid_s = self.pauses_s = 0.0
        self.hr_seconds: dict[int, float] = {}
        self.bins_hr: dict[int, list[float]] = {}
        self.bins_speed: dict[int, list[float]] = {}
        self.bins_alt: dict[int, list[float]] = {}
        self.bins_dist: dict[int, float] = {}
        self.samples: list[tuple[int, float, float]] = []  # (bin, speed, seconds) of moving samples


def _accumulate(rows: _Rows) -> _Totals:
    """One pass over the samples; the sums are taken in sample order, as they always were.

    The timestamps never go back (``_clean_rows``), so a bin's samples come together: the lists of
    the bin in hand are kept at hand, and a bin gets a list only when a value falls into it."""
    acc = _Totals()
    t = rows.t
    t0 = t[0]
    sample_s = moving_s = hr_valid_s = speed_valid_s = pauses_s = 0.0
    hr_seconds, bins_dist = acc.hr_seconds, acc.bins_dist
    bins_hr, bins_speed, bins_alt = acc.bins_hr, acc.bins_speed, acc.bins_alt
    add_sample = acc.samples.append
    current = -1
    alts: list[float] | None = None
    hrs: list[float] | None = None
    speeds: list[float] | None = None
    for now, later, spd, hr, alt in zip(t, t[1:], rows.speed, rows.hr, rows.alt, strict=False):
        dt = later - now
        if dt <= 0:
            continue
        if dt > MAX_GAP_S:
            pauses_s += dt
            dt = 1.0  # the sample itself still stands for a second
        sample_s += dt
        b = int((now - t0) // BIN_S)
        if b != current:
            current, alts, hrs, speeds = b, None, None, None
        if alt is not None:
            if alts is None:
                alts = bins_alt[b] = []
            alts.append(alt)
        if spd is not None and spd < MOVING_MPS:
            continue
        moving_s += dt
        if hr is not None:
            hr_valid_s += dt
            level = round(hr)
            hr_seconds[level] = hr_seconds.get(level, 0.0) + dt
            if hrs is None:
                hrs = bins_hr[b] = []
            hrs.append(hr)
        if spd is not None:
            speed_valid_s += dt
            add_sample((b, spd, dt))
            if speeds is None:
                speeds = bins_speed[b] = []
            speeds.append(spd)
            bins_dist[b] = bins_dist.get(b, 0.0) + spd * dt
    acc.sample_s, acc.moving_s, acc.hr_valid_s = sample_s, moving_s, hr_valid_s
    acc.speed_valid_s, acc.pauses_s = speed_valid_s, pauses_s
    return acc


def _speed_histogram(
    samples: list[tuple[int, float, float]], factors: list[float] | None
) -> dict[int, float]:
    seconds: dict[int, float] = {}
    for b, spd, dt in samples:
        level = round(spd * (factors[b] if factors is not None else 1.0) * 10)
        seconds[level] = seconds.get(level, 0.0) + dt
    return seconds


def minetti_cost(grade: float) -> float:
    """Energy cost of running (J/kg/m) on a gradient (a fraction), Minetti et al. 2002."""
    i = max(-MAX_GRADE, min(MAX_GRADE, grade))
    return 155.4 * i**5 - 30.4 * i**4 - 43.3 * i**3 + 46.3 * i**2 + 19.5 * i + 3.6


def _grade_factors(
    bins_alt: dict[int, list[float]], bins_dist: dict[int, float], n_bins: int
) -> tuple[list[float] | None, float, float]:
    """Per 10-s bin, the factor that turns speed into grade-adjusted speed; ascent and descent.

    Altitude is smoothed over ``ALT_SMOOTH_BINS`` bins (barometric and GPS noise), the gradient is
    taken over ``GRADE_SPAN_BINS`` bins either side of a bin, against the distance run meanwhile.
    """
    if len(bins_alt) < 2 * GRADE_SPAN_BINS + 1:
        return None, 0.0, 0.0
    raw: list[float | None] = [
        statistics.fmean(bins_alt[b]) if b in bins_alt else None for b in range(n_bins)
    ]
    alt = _fill_gaps(raw)
    smooth = _centred_mean(alt, ALT_SMOOTH_BINS // 2)
    ascent = sum(max(0.0, b - a) for a, b in itertools.pairwise(smooth))
    descent = sum(max(0.0, a - b) for a, b in itertools.pairwise(smooth))
    cumulative = [0.0]
    for b in range(n_bins):
        cumulative.append(cumulative[-1] + bins_dist.get(b, 0.0))
    flat = minetti_cost(0.0)
    factors: list[float] = []
    for b in range(n_bins):
        lo, hi = max(0, b - GRADE_SPAN_BINS), min(n_bins - 1, b + GRADE_SPAN_BINS)
        run = cumulative[hi + 1] - cumulative[lo]
        grade = (smooth[hi] - smooth[lo]) / run if run >= MIN_GRADE_DISTANCE_M else 0.0
        factors.append(minetti_cost(grade) / flat)
    return factors, ascent, descent


def _fill_gaps(values: list[float | None]) -> list[float]:
    """Missing bins take the last known value (the first known one at the start)."""
    first = next(v for v in values if v is not None)
    out: list[float] = []
    last = first
    for v in values:
        last = v if v is not None else last
        out.append(last)
    return out


def _centred_mean(values: list[float], half: int) -> list[float]:
    """Moving average over ``2 * half + 1`` values with a running sum (shorter at the ends)."""
    n = len(values)
    prefix = [0.0]
    for v in values:
        prefix.append(prefix[-1] + v)
    return [
        (prefix[min(n, i + half + 1)] - prefix[max(0, i - half)]) / (min(n, i + half + 1) - max(0, i - half))
        for i in range(n)
    ]


class _Rows:
    __slots__ = ("alt", "clock_jumps", "gps_jumps", "hr", "hr_artifacts", "speed", "t")

    def __init__(self) -> None:
        self.t: list[float] = []
        self.hr: list[float | None] = []
        self.speed: list[float | None] = []
        self.alt: list[float | None] = []
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
    altitude: Sequence[float | None] = (),
) -> _Rows:
    rows = _Rows()
    n = len(timestamps)
    hr_in, spd_in, dist_in, alt_in = (_padded(s, n) for s in (heart_rate, speed, distance, altitude))
    add_t, add_hr, add_speed, add_alt = rows.t.append, rows.hr.append, rows.speed.append, rows.alt.append
    last_t: float | None = None
    last_dist: float | None = None
    behind = False  # the clock ran backwards and has not caught up yet
    for t, hr, spd, dist, alt in zip(timestamps, hr_in, spd_in, dist_in, alt_in, strict=False):
        if t is None:
            continue
        if last_t is not None:
            if t < last_t:
                rows.clock_jumps += int(not behind)  # one jump, however many samples it hides
                behind = True
                continue  # drop the sample until the clock passes the last kept one, keep the order
            if t - last_t > CLOCK_JUMP_S:
                rows.clock_jumps += 1
        behind = False
        if hr is not None and not (MIN_HR <= hr <= MAX_HR):
            rows.hr_artifacts += 1
            hr = None
        if spd is None and dist is not None and last_dist is not None and last_t is not None and t > last_t:
            spd = max(0.0, (dist - last_dist) / (t - last_t))
        if spd is not None and (spd < 0 or spd > MAX_CREDIBLE_MPS):
            rows.gps_jumps += 1
            spd = None
        if alt is not None and not (MIN_ALT_M <= alt <= MAX_ALT_M):
            alt = None
        add_t(t)
        add_hr(hr)
        add_speed(spd)
        add_alt(alt)
        last_t = t
        if dist is not None:
            last_dist = dist
    _drop_hr_spikes(rows)
    return rows


def _padded(values: Sequence[float | None], n: int) -> Sequence[float | None]:
    """``values`` cut or filled with None to ``n`` items, aligned with the timestamps."""
    if len(values) == n:
        return values
    return [*values[:n], *itertools.repeat(None, n - len(values))]


def _drop_hr_spikes(rows: _Rows) -> None:
    """A reading far from the median of its neighbours (5 either side) is an optical-sensor spike.

    One pass with a sorted window that slides along: a dropped reading leaves the window at once,
    as it no longer counts for the readings after it.
    """
    hr = rows.hr
    n = len(hr)
    window: list[float] = sorted(v for v in hr[: min(n, 6)] if v is not None)
    for i in range(n):
        if i > 0:
            old = hr[i - 6] if i >= 6 else None
            if old is not None:
                del window[bisect.bisect_left(window, old)]
            new = hr[i + 5] if i + 5 < n else None
            if new is not None:
                bisect.insort(window, new)
        value = hr[i]
        if value is None or len(window) < 5:
            continue
        k = len(window)
        median = window[k // 2] if k % 2 else (window[k // 2 - 1] + window[k // 2]) / 2
        if abs(value - median) > HR_SPIKE_BPM:
            hr[i] = None
            del window[bisect.bisect_left(window, value)]
            rows.hr_artifacts += 1


def _bin_means(bins: dict[int, list[float]], n_bins: int) -> list[float | None]:
    return [sum(bins[b]) / len(bins[b]) if b in bins else None for b in range(n_bins)]


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
