"""What people see: tables for activities and the plan, and the JSON that scripts read."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from runstrong_sync.core.domain import Label, LabelledActivity, StrengthSession
from runstrong_sync.core.text import clean_text

LABEL_STYLES = {Label.EASY: "green", Label.HARD: "bold red", Label.LONG: "bold blue", Label.OTHER: "dim"}


def duration_text(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes // 60}:{minutes % 60:02d}"


def activity_json(item: LabelledActivity) -> dict[str, Any]:
    a, c = item.activity, item.classification
    return {
        "id": item.id,
        "source": a.source,
        "source_ref": a.source_ref,
        "sport": a.sport,
        "name": a.name,
        "start": a.start_local.isoformat(),
        "duration_s": round(a.elapsed_s),
        "moving_s": round(a.moving_s),
        "distance_m": round(a.distance_m, 1) if a.distance_m is not None else None,
        "label": c.label.value,
        "confidence": c.confidence,
        "uncertain": c.uncertain,
        "overridden": c.overridden,
        "reasons": [r.text for r in c.reasons],
        "reason_codes": [r.code for r in c.reasons],
    }


def session_json(session: StrengthSession) -> dict[str, Any]:
    return {
        "uid": session.uid,
        "start": session.start.isoformat(),
        "end": session.end.isoformat(),
        "title": session.title,
        "kind": session.kind,
        "focus": list(session.focus),
        "duration_min": session.duration_min,
        "exercises": [
            {
                "name": e.name,
                "group": e.group,
                "sets": e.sets,
                "reps": e.reps,
                "hold_s": e.hold_s,
                "per_side": e.per_side,
                "rest_s": e.rest_s,
                "equipment": e.equipment,
                "cue": e.cue,
            }
            for e in session.exercises
        ],
        "why": session.why,
        "status": session.status.value,
        "sequence": session.sequence,
    }


def activities_table(items: Sequence[LabelledActivity]) -> Table:
    table = Table(title="Activities", title_justify="left")
    for column in ("Id", "Date", "Sport", "Time", "Km", "Label", "Conf.", "Why"):
        table.add_column(column, no_wrap=column not in ("Why",))
    for item in items:
        a, c = item.activity, item.classification
        label = Text(
            c.label.value + (" *" if c.overridden else "") + (" ?" if c.uncertain else ""),
            style=LABEL_STYLES[c.label],
        )
        table.add_row(
            str(item.id),
            a.start_local.strftime("%a %Y-%m-%d %H:%M"),
            a.sport,
            duration_text(a.elapsed_s),
            f"{a.distance_m / 1000:.1f}" if a.distance_m else "-",
            label,
            f"{c.confidence:.2f}",
            c.reasons[0].text if c.reasons else "",
        )
    table.caption = "* set by you   ? uncertain: planned around as if hard"
    return table


def run_line(run: Mapping[str, Any]) -> str:
    """One run of the plan view: label, whether it is done, planned or expected, and its name."""
    label = Label(run["label"]).value
    if run.get("hard") and label != "hard":
        label += ", planned around as hard"
    source = run.get("source") or ("pattern" if run.get("expected") else "done")
    status = {"done": "done", "plan": "planned", "pattern": "expected"}.get(source, source)
    title = run.get("title") or ""
    end = f" until {run['end']}" if run.get("end") and source != "pattern" else ""
    return f"{label} ({status}{end}){': ' + title if title else ''}"


def plan_table(
    sessions: Sequence[StrengthSession],
    runs: Sequence[Mapping[str, Any]],
    notes: Mapping[str, str],
    today: date,
    days: int,
    *,
    explain: bool = False,
    week_notes: Mapping[str, str] | None = None,
) -> Table:
    from runstrong_sync.core.plan import FORM_MARKER  # the planner's: not loaded to list activities

    table = Table(title=f"Plan from {today.isoformat()} ({days} days)", title_justify="left", show_lines=True)
    table.add_column("Day", no_wrap=True)
    table.add_column("Running", no_wrap=True)
    table.add_column("Strength")
    by_day: dict[str, list[StrengthSession]] = {}
    for session in sessions:
        by_day.setdefault(session.start.date().isoformat(), []).append(session)
    for offset in range(days):
        day = today + timedelta(days=offset)
        key = day.isoformat()
        run_text = Text()
        for run in (r for r in runs if r["day"] == key):
            run_text.append(run_line(run) + "\n", style=LABEL_STYLES[Label(run["label"])])
        cell = Text()
        for session in by_day.get(key, []):
            cell.append(f"{session.start:%H:%M} {session.title}", style="bold")
            cell.append(f" [{session.status.value}]\n")
            for exercise in session.exercises:
                cell.append(f"  {exercise.name} {exercise.dose}\n")
                if FORM_MARKER in session.why and exercise.cue:  # learning the movements: the cue
                    cell.append(f"    {exercise.cue}\n", style="dim")
            cell.append(f"  Why: {session.why}\n", style="italic")
        if not by_day.get(key) and explain and key in notes:
            cell.append(f"No session: {notes[key]}", style="dim")
        table.add_row(day.strftime("%a %d %b"), run_text, cell)
    shown = {
        key: note
        for key, note in (week_notes or {}).items()
        if today - timedelta(days=6) <= date.fromisoformat(key) < today + timedelta(days=days)
    }
    if shown:
        table.caption = "\n".join(
            f"Week of {date.fromisoformat(key):%a %d %b}: {note}" for key, note in sorted(shown.items())
        )
    return table


def print_rejections(console: Console, rejected: Sequence[tuple[str, str, str | None]]) -> None:
    for ref, reason, moved in rejected:
        where = f" (set aside in {moved})" if moved else ""
        # Reasons quote decoders ("[computed: 0xA1D5, ...]"): printed as text, not markup.
        console.print(
            f"[red]rejected[/red] {escape(clean_text(f'{ref}: {reason}{where}', 4000))}",
            highlight=False,
            soft_wrap=True,
        )
