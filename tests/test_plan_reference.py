"""Reference weeks with the placement written out by hand from the rules (training-rules.md, b).

The week of Monday 7 December 2026 is the first week of a 4-week block (not the lighter week).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from runstrong_sync.domain import Label, SessionStatus
from runstrong_sync.exercises import GROUPS
from runstrong_sync.plan import DayRun, PlanResult, PlanSettings, Race, plan
from tests.plan_rules import HEAVY_NAMES

ZONE = ZoneInfo("Europe/Berlin")
MONDAY = date(2026, 12, 7)
NOW = datetime(2026, 12, 7, 0, 0, tzinfo=ZONE)
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def run(weekday: int, label: Label, end: time | None = time(7, 30), title: str = "") -> DayRun:
    return DayRun(
        MONDAY + timedelta(days=weekday),
        label,
        hard=label is Label.HARD,
        end=end,
        expected=True,
        title=title or label.value,
        source="plan",
    )


def week(runs: list[DayRun], settings: PlanSettings, now: datetime = NOW, **kwargs: object) -> PlanResult:
    return plan(
        now=now, runs=runs, strength_days=[], previous=[], settings=settings, horizon_days=7, **kwargs
    )  # type: ignore[arg-type]


def placed(result: PlanResult) -> dict[int, tuple[str, str]]:
    """weekday -> (start time, kind), in the reference week"""
    return {
        s.start.weekday(): (s.start.strftime("%H:%M"), s.kind)
        for s in result.sessions
        if MONDAY <= s.start.date() < MONDAY + timedelta(days=7)
    }


INTERVALS_TEMPO_LONG = [
    run(TUE, Label.HARD, time(7, 30), "Intervals 6x800"),
    run(WED, Label.EASY, time(7, 0), "Easy run"),
    run(THU, Label.HARD, time(7, 30), "Tempo 20 min"),
    run(SAT, Label.EASY, time(9, 0), "Easy run"),
    run(SUN, Label.LONG, time(11, 0), "Long run"),
]


def test_intervals_tuesday_tempo_thursday_long_sunday() -> None:
    # Mon is the day before the intervals, Wed before the tempo, Sat before the long run; Tue, Thu
    # and Sun are key days. Only Friday is legal for a full session; a short core-and-hip session on
    # Monday (rest day, 4 days from Friday) makes the second.
    result = week(INTERVALS_TEMPO_LONG, PlanSettings(zone=ZONE))
    assert placed(result) == {MON: ("18:30", "light"), FRI: ("18:30", "full")}
    light = result.sessions[0]
    assert [e.name for e in light.exercises] == ["Front plank", "Dead bug", "Clamshell"]
    assert light.title.startswith("Core & hips")
    assert "core and hip" in result.week_notes[MONDAY]
    assert (
        result.notes[MONDAY + timedelta(days=TUE)]
        == "hard-run day (Intervals 6x800, from your training plan)"
    )
    assert result.notes[MONDAY + timedelta(days=WED)] == (
        "the day before a hard run (Tempo 20 min, from your training plan)"
    )
    assert result.notes[MONDAY + timedelta(days=SAT)].startswith("the day before a long run")
    assert result.notes[MONDAY + timedelta(days=SUN)].startswith("long-run day")


def test_same_week_in_hard_days_hard_mode() -> None:
    # Strength after the hard run on Tuesday, at least 4 h after it (09:30 + 4 h = 13:30, later
    # than the usual 12:00); Thursday would be next to Friday, so Tuesday and Friday.
    runs = [run(TUE, Label.HARD, time(9, 30), "Intervals"), *INTERVALS_TEMPO_LONG[1:]]
    settings = PlanSettings(
        zone=ZONE,
        hard_days_hard=True,
        experience="experienced",
        gap_after_run_hours=2,
        strength_time=time(12, 0),
    )
    result = week(runs, settings)
    assert placed(result) == {TUE: ("13:30", "full"), FRI: ("12:00", "full")}
    assert "hard days hard" in result.sessions[0].why
    assert not result.week_notes


def test_three_run_week_with_an_evening_easy_run() -> None:
    # Tempo Tue, easy Thu ending 18:00 (+6 h gap is past 21:00: no strength that day), long Sun.
    # Legal: Wed (rest, after a hard day) and Fri (rest); the third session has no legal day.
    runs = [run(TUE, Label.HARD), run(THU, Label.EASY, time(18, 0)), run(SUN, Label.LONG)]
    result = week(runs, PlanSettings(zone=ZONE, experience="experienced"))
    assert placed(result) == {WED: ("18:30", "full"), FRI: ("18:30", "full")}
    assert result.notes[MONDAY + timedelta(days=THU)] == (
        "the run ends too late for strength after it with the gap you set"
    )
    assert not result.week_notes  # two sessions reach the minimum of two


def test_six_run_week() -> None:
    # Easy Mon, intervals Tue, easy Wed/Thu/Fri, rest Sat, long Sun. Mon, Tue, Sat, Sun are out;
    # Wed (easy, after the hard day) and Fri (easy; run ends 13:15, so 19:15 after the 6 h gap).
    runs = [
        run(MON, Label.EASY, time(7, 0)),
        run(TUE, Label.HARD, time(7, 30)),
        run(WED, Label.EASY, time(7, 0)),
        run(THU, Label.EASY, time(12, 45)),
        run(FRI, Label.EASY, time(13, 15)),
        run(SUN, Label.LONG, time(10, 0)),
    ]
    result = week(runs, PlanSettings(zone=ZONE))
    assert placed(result) == {WED: ("18:30", "full"), FRI: ("19:15", "full")}
    assert "strength at least 6 h after it" in result.sessions[1].why


def test_week_with_an_a_race() -> None:
    # 10 km A race on Sunday: race week, one session, volume x0.25, no heavy leg work. Saturday is
    # the day before the race; Monday the day before Tuesday's short intervals. Wednesday (easy,
    # after the hard day) and Thursday (rest) score the same: the earlier one, further from the race.
    race = Race(MONDAY + timedelta(days=SUN), "A", "City 10K")
    runs = [
        run(MON, Label.EASY),
        run(TUE, Label.HARD),
        run(WED, Label.EASY),
        run(FRI, Label.EASY),
        DayRun(race.day, Label.HARD, hard=True, title="City 10K"),
    ]
    settings = PlanSettings(
        zone=ZONE, experience="experienced", equipment=("bodyweight", "dumbbells"), races=(race,)
    )
    result = week(runs, settings)
    assert placed(result) == {WED: ("18:30", "full")}
    session = result.sessions[0]
    assert all(e.sets == 1 for e in session.exercises)
    assert not HEAVY_NAMES.intersection(e.name for e in session.exercises)
    assert not any(e.group == "plyometrics" for e in session.exercises)
    assert set(GROUPS) <= {e.group for e in session.exercises}
    assert "Taper for City 10K" in result.week_notes[MONDAY]
    assert result.notes[race.day] == "race day (City 10K)"
    assert result.notes[race.day - timedelta(days=1)] == "the day before a race (City 10K)"


def test_beginner_with_only_bodyweight() -> None:
    runs = [run(TUE, Label.HARD), run(THU, Label.EASY), run(SUN, Label.LONG, time(10, 30))]
    result = week(runs, PlanSettings(zone=ZONE, equipment=("bodyweight",), max_sessions=3))
    # A beginner gets two sessions even when three are allowed: Wed (after the hard day) and Fri.
    assert placed(result) == {WED: ("18:30", "full"), FRI: ("18:30", "full")}
    wednesday, friday = result.sessions
    assert [(e.name, e.dose) for e in wednesday.exercises] == [
        ("Front plank", "2 x 30 s"),
        ("Glute bridge", "2 x 12"),
        ("Hip hinge (good morning)", "2 x 12"),
        ("Split squat", "2 x 12 per side"),
        ("Single-leg calf raise", "3 x 12 per side"),
        ("Step-up", "2 x 12 per side"),
    ]
    assert [(e.name, e.dose) for e in friday.exercises] == [
        ("Dead bug", "2 x 12"),
        ("Single-leg glute bridge", "3 x 12 per side"),
        ("Single-leg deadlift", "2 x 12 per side"),
        ("Step-up", "2 x 12 per side"),
        ("Eccentric heel drop (straight and bent knee)", "2 x 12 per side"),
        ("Russian twist", "2 x 12"),
    ]
    assert wednesday.focus == ("quads", "calves") and friday.focus == ("core", "glutes")
    for session in result.sessions:
        assert {e.equipment for e in session.exercises} == {"bodyweight"}
        assert all(e.rest_s == 60 and e.cue for e in session.exercises)
        assert 25 <= session.duration_min <= 40


def test_a_run_that_turns_hard_moves_the_session_before_it() -> None:
    # Monday: easy Mon/Tue/Thu/Sat, long Sun. Best two: Wednesday and Friday (rest days).
    runs = [
        run(MON, Label.EASY, time(7, 0)),
        run(TUE, Label.EASY, time(7, 45)),
        run(THU, Label.EASY, time(7, 0), "Easy 8 km"),
        run(SAT, Label.EASY, time(9, 0)),
        run(SUN, Label.LONG, time(10, 30)),
    ]
    settings = PlanSettings(zone=ZONE)
    first = week(runs, settings)
    assert placed(first) == {WED: ("18:30", "full"), FRI: ("18:30", "full")}
    wednesday, friday = first.sessions

    # Tuesday 07:00 the training plan turns Thursday into a tempo run. Wednesday is now the day
    # before a hard run: although within the 48 h window, it moves (to Tuesday evening, the only
    # legal day left) and keeps its UID, with SEQUENCE + 1 and the reason recorded.
    runs[2] = run(THU, Label.HARD, time(7, 0), "Tempo 5 km")
    tuesday_morning = datetime(2026, 12, 8, 7, 0, tzinfo=ZONE)
    second = plan(
        now=tuesday_morning,
        runs=runs,
        strength_days=[],
        previous=first.sessions,
        settings=settings,
        horizon_days=7,
    )
    assert placed(second) == {TUE: ("18:30", "full"), FRI: ("18:30", "full")}
    moved = next(s for s in second.sessions if s.uid == wednesday.uid)
    assert moved.start.weekday() == TUE
    assert moved.sequence == wednesday.sequence + 1
    assert "Moved from Wednesday 2026-12-09: the day before a hard run (Tempo 5 km" in moved.why
    assert second.notes[MONDAY + timedelta(days=WED)] == (
        "the day before a hard run (Tempo 5 km, from your training plan)"
    )
    stayed = next(s for s in second.sessions if s.uid == friday.uid)
    assert stayed.start == friday.start

    # Nothing new: nothing changes, the reason stays recorded.
    third = plan(
        now=tuesday_morning + timedelta(hours=1),
        runs=runs,
        strength_days=[],
        previous=second.sessions,
        settings=settings,
        horizon_days=7,
    )
    assert [(s.uid, s.sequence, s.start, s.why) for s in third.sessions] == [
        (s.uid, s.sequence, s.start, s.why) for s in second.sessions
    ]


def test_a_done_strength_activity_marks_the_session_and_counts() -> None:
    runs = [run(TUE, Label.HARD), run(THU, Label.EASY), run(SUN, Label.LONG)]
    settings = PlanSettings(zone=ZONE)
    first = week(runs, settings)
    wednesday = first.sessions[0]
    # Strength recorded on Wednesday; planning again Thursday morning marks it done.
    thursday = datetime(2026, 12, 10, 8, 0, tzinfo=ZONE)
    wed_day = MONDAY + timedelta(days=WED)
    again = plan(
        now=thursday,
        runs=runs,
        strength_days=[wed_day],
        previous=first.sessions,
        settings=settings,
        horizon_days=7,
    )
    done = next(s for s in again.sessions if s.uid == wednesday.uid)
    assert done.status is SessionStatus.DONE and done.start == wednesday.start
    # Strength done on Monday instead of the plan's days: it counts, and the next session keeps 48 h.
    monday_done = plan(
        now=datetime(2026, 12, 8, 6, 0, tzinfo=ZONE),
        runs=runs,
        strength_days=[MONDAY],
        previous=first.sessions,
        settings=settings,
        horizon_days=7,
    )
    assert list(placed(monday_done)) == [WED]  # one more makes two with Monday's
    missed = plan(
        now=datetime(2026, 12, 12, 8, 0, tzinfo=ZONE),
        runs=runs,
        strength_days=[],
        previous=first.sessions,
        settings=settings,
        horizon_days=7,
    )
    earlier = {s.uid for s in first.sessions}
    past = [s for s in missed.sessions if s.uid in earlier]
    assert {s.status for s in past} == {SessionStatus.MISSED}
    assert [s.start for s in past] == [s.start for s in first.sessions]


def test_every_fourth_week_is_lighter_and_weeks_progress() -> None:
    runs: list[DayRun] = []
    settings = PlanSettings(zone=ZONE, equipment=("bodyweight", "bands"))
    sets = []
    names = []
    for weeks_on in range(4):
        monday = MONDAY + timedelta(weeks=weeks_on)
        result = plan(
            now=datetime.combine(monday, time(0, 0), tzinfo=ZONE),
            runs=runs,
            strength_days=[],
            previous=[],
            settings=settings,
            horizon_days=7,
        )
        sets.append(sum(e.sets for s in result.sessions for e in s.exercises))
        names.append({e.name for s in result.sessions for e in s.exercises})
        if weeks_on == 3:
            assert all("Lighter week" in s.why for s in result.sessions)
    assert sets[0] < sets[1], sets  # the second week adds sets...
    assert (
        "Rear-foot-elevated split squat" in names[2] and not names[2] & names[0]
    )  # ...the third harder variants
    assert sets[3] <= max(sets[:3]) * 0.7, sets  # 30-50 % fewer sets than the heaviest week
