"""The runs a plan is placed around, besides those done: the runner's usual week predicted from the
last weeks (nothing while on a break of 7+ days), the latest time this runner trains, a training
plan's calendar events read as easy, hard, long or race runs, and all of these merged by day, the
plan's runs winning over the predicted ones. Pure: the caller passes the runs and the events.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta, tzinfo

from runstrong_sync.core.domain import Label
from runstrong_sync.core.planmodel import LATEST_START, WEEKDAY_NAMES, DayRun, PlannedEvent, week_start

LATEST_LEARNED_CAP = time(22, 30)
BREAK_DAYS = 7  # no runs this long: the runner is out of the usual pattern


def forecast_end(today: date, horizon_days: int = 14) -> date:
    """The last day a published session can depend on: the day after the last planned week."""
    return week_start(today + timedelta(days=horizon_days - 1)) + timedelta(days=7)


def last_run_before(history: Sequence[DayRun], today: date) -> date | None:
    days = [r.day for r in history if not r.expected and r.day < today]
    return max(days) if days else None


def on_break(history: Sequence[DayRun], today: date) -> bool:
    """No run in the last ``BREAK_DAYS`` days (with some history before): out of the usual pattern."""
    last = last_run_before(history, today)
    return last is not None and (today - last).days > BREAK_DAYS


def predict_runs(
    history: Sequence[DayRun], today: date, weeks: int = 6, horizon_days: int = 14
) -> list[DayRun]:
    """Expected runs from the runner's own week over the last ``weeks`` complete weeks.

    A weekday is a key day when a hard or long run fell on it in at least half of the weeks that
    had any run; long when most of those were long. A weekday with any run in half of the weeks
    expects an easy run. The usual end time is the median of those runs'. A long run already done
    this week replaces the week's expected one. Predictions reach the day after the last planned
    week (every day a session depends on); none at all after a break of a week or more.
    """
    if on_break(history, today):
        return []
    this_monday = week_start(today)
    since = this_monday - timedelta(weeks=weeks)
    past = [r for r in history if since <= r.day < this_monday and not r.expected]
    active_weeks = {week_start(r.day) for r in past}
    if len(active_weeks) < 2:
        return []
    done_this_week = [r for r in history if this_monday <= r.day < today and not r.expected]
    last = forecast_end(today, horizon_days)
    predictions: list[DayRun] = []
    for weekday in range(7):
        usual = _usual_run(past, weekday, len(active_weeks))
        if usual is None:
            continue
        label, usual_end = usual
        for offset in range((last - today).days + 1):
            day = today + timedelta(days=offset)
            if day.weekday() != weekday:
                continue
            if label is Label.LONG and any(
                r.label is Label.LONG and week_start(r.day) == week_start(day) for r in done_this_week
            ):
                continue
            kind = {Label.LONG: "long run", Label.HARD: "hard run"}.get(label, "easy run")
            predictions.append(
                DayRun(
                    day,
                    label,
                    hard=label is Label.HARD,
                    end=usual_end,
                    expected=True,
                    title=f"usual {WEEKDAY_NAMES[weekday]} {kind}",
                    source="pattern",
                )
            )
    return predictions


def _usual_run(past: Sequence[DayRun], weekday: int, active: int) -> tuple[Label, time | None] | None:
    on_day = [r for r in past if r.day.weekday() == weekday]
    run_weeks = {week_start(r.day) for r in on_day}
    if len(run_weeks) * 2 < active:
        return None
    key_weeks = {week_start(r.day) for r in on_day if r.key}
    long_weeks = {week_start(r.day) for r in on_day if r.label is Label.LONG}
    if len(key_weeks) * 2 >= active:
        label = Label.LONG if len(long_weeks) * 2 >= len(key_weeks) else Label.HARD
    else:
        label = Label.EASY
    ends = sorted(r.end for r in on_day if r.end is not None and (r.key or label is Label.EASY))
    return label, ends[(len(ends) - 1) // 2] if ends else None


def learned_latest_start(history: Sequence[DayRun], default: time = LATEST_START) -> time:
    """The latest a session may start: 21:00, or later for a runner whose runs end later (the
    third-latest end of the recent runs, so one odd night run does not count), at most 22:30."""
    ends = sorted((r.end for r in history if not r.expected and r.end is not None), reverse=True)
    if len(ends) < 3:
        return default
    learned = ends[2]
    if learned <= default:
        return default
    return min(learned, LATEST_LEARNED_CAP)


# Keywords of training-plan event titles (TrainingPeaks, Runna, Garmin Coach, Final Surge...).
_RUN_WORD = re.compile(r"\b(run|running|jog|laufen|lauf)\b", re.IGNORECASE)
_NOT_RUN = re.compile(
    r"\b(strength|gym|weights?|yoga|pilates|mobility|stretch\w*|rest|day off|off day|swim\w*|bike|"
    r"ride|cycl\w*|cross[- ]?train\w*|elliptical|row\w*|walk\w*)\b",
    re.IGNORECASE,
)
_RACE = re.compile(r"\b(race|parkrun|marathon(?!\s+pace)|10k race|5k race)\b", re.IGNORECASE)
_LONG = re.compile(
    r"\b(long(?!\s+(intervals?|reps?|repeats?|hills?|strides))|lsd)\b|\blong run\b", re.IGNORECASE
)
_HARD = re.compile(
    r"\b(intervals?|tempo|threshold|fartlek|hills?|repeats?|reps|vo2\s?max|vo2|speed|track|"
    r"progression|cruise|race pace|marathon pace|mp|lt|workout|quality|sprints?|yasso\w*)\b"
    r"|\d+\s*[x×]\s*\d+",
    re.IGNORECASE,
)
_EASY = re.compile(
    r"\b(easy|recovery|shake[- ]?out|jog|aerobic|base|conversational|zone 2|z2|strides)\b", re.IGNORECASE
)
LONG_EVENT_MINUTES = 90


def classify_planned_event(title: str, description: str = "", minutes: float | None = None) -> Label | None:
    """Easy, hard or long from a planned event's words; None for events that are not runs.

    Long beats hard (a long run with a fast finish stays long); a race is hard; a run that says
    nothing of its kind is taken as hard, the costlier mistake to get wrong.
    """
    is_run = bool(_RUN_WORD.search(title))
    if not is_run and _NOT_RUN.search(title):
        return None
    for text in (title, description):
        if _RACE.search(text):
            return Label.HARD
        if _LONG.search(text):
            return Label.LONG
        if _HARD.search(text):
            return Label.HARD
        if _EASY.search(text):
            return Label.EASY
    if minutes is not None and minutes >= LONG_EVENT_MINUTES:
        return Label.LONG
    if not is_run and not title.strip():
        return None
    return Label.HARD


def planned_runs(events: Iterable[PlannedEvent], zone: tzinfo) -> list[DayRun]:
    """A training plan's events as expected runs, in the athlete's local days."""
    runs: list[DayRun] = []
    for event in events:
        day, minutes, end_time = _event_times(event, zone)
        label = classify_planned_event(event.title, event.description, minutes)
        if label is None:
            continue
        runs.append(
            DayRun(
                day,
                label,
                hard=label is Label.HARD,
                end=end_time,
                expected=True,
                title=event.title.strip() or "planned run",
                source="plan",
                race=bool(_RACE.search(event.title) or _RACE.search(event.description)),
            )
        )
    return sorted(runs, key=lambda r: (r.day, r.title))


def _event_times(event: PlannedEvent, zone: tzinfo) -> tuple[date, float | None, time | None]:
    """The event's local day, its minutes and its end time (23:59 when it ends after midnight)."""
    if not isinstance(event.start, datetime):
        return event.start, None, None
    start = event.start.astimezone(zone) if event.start.tzinfo else event.start.replace(tzinfo=zone)
    day = start.date()
    if not isinstance(event.end, datetime):
        return day, None, None
    end = event.end.astimezone(zone) if event.end.tzinfo else event.end.replace(tzinfo=zone)
    minutes = (end - start).total_seconds() / 60
    end_time = end.time().replace(second=0, microsecond=0) if end.date() == day else time(23, 59)
    return day, minutes, end_time


def merge_runs(
    done: Iterable[DayRun],
    expected: Iterable[DayRun],
    today: date,
    planned: Iterable[DayRun] = (),
) -> list[DayRun]:
    """What each day holds: done runs first; for days not yet run, the training plan's runs, and
    the runner's usual pattern only outside the days the plan covers."""
    done_list = list(done)
    planned_list = [r for r in planned if r.day >= today]
    done_days = {r.day for r in done_list}
    covered: tuple[date, date] | None = None
    if planned_list:
        covered = (min(r.day for r in planned_list), max(r.day for r in planned_list))
    merged = done_list + [r for r in planned_list if r.day not in done_days]
    for run in expected:
        if run.day < today or run.day in done_days:
            continue
        if covered is not None and covered[0] <= run.day <= covered[1]:
            continue
        merged.append(run)
    return sorted(merged, key=lambda r: (r.day, r.expected, r.title))
