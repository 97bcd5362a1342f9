"""`runstrong-sync week`: this week and next as a coloured table, for a terminal over SSH."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from runstrong_sync.cli.app import App, pass_app
from runstrong_sync.cli.group import cli
from runstrong_sync.core.domain import Label
from runstrong_sync.core.plan import FORM_MARKER
from runstrong_sync.core.weekview import DayView, WeekView
from runstrong_sync.render import LABEL_STYLES
from runstrong_sync.web.loader import load_week_view

SESSION_STYLE = "bold magenta"


def day_cells(day: DayView) -> tuple[Text, Text, Text]:
    name = Text(f"{day.name} {day.day:%d %b}", style="reverse bold" if day.is_today else "bold")
    runs = Text()
    for run in day.runs:
        tag = run.label.value.upper() if run.label is not Label.OTHER else run.sport.replace("_", " ")
        style = LABEL_STYLES[run.label] + (" italic" if run.expected else "")
        runs.append(f"[{tag}]", style=style)
        if run.expected:
            runs.append(" expected\n", style="italic")
        else:
            start = f"{run.start:%H:%M} " if run.start else ""
            runs.append(f" {start}{run.headline}\n")
        if not run.expected and run.reason:
            runs.append(f"  {run.reason}\n", style="dim")
    strength = Text()
    for session in day.sessions:
        strength.append(f"[STRENGTH] {session.start:%H:%M} {session.title}", style=SESSION_STYLE)
        strength.append(f" ({session.status.value})\n")
        learning = FORM_MARKER in session.why
        for exercise in session.exercises:
            strength.append(f"  {exercise.name}: {exercise.dose}\n")
            if learning and exercise.cue:  # the first weeks teach the movements: cues in front
                strength.append(f"    {exercise.cue}\n", style="dim")
        strength.append(f"  Why: {session.why}\n", style="italic dim")
    if not day.sessions and day.note:
        strength.append(f"no strength: {day.note}", style="dim")
    return name, runs, strength


def week_renderable(view: WeekView) -> RenderableType:
    parts: list[RenderableType] = []
    health = Text("Sync: ", style="bold")
    health.append(view.health.message, style="green" if view.health.ok else "bold red")
    parts.append(health)
    for title, week in zip(("This week", "Next week"), view.weeks, strict=True):
        table = Table(
            title=f"{title} ({week[0].day:%d %b} – {week[-1].day:%d %b})",
            title_justify="left",
            show_lines=True,
            expand=True,
        )
        table.add_column("Day", no_wrap=True)
        table.add_column("Running", ratio=2)
        table.add_column("Strength", ratio=3)
        for day in week:
            table.add_row(*day_cells(day))
        parts.append(table)
        parts.extend(Text(note, style="yellow") for note in view.notes_for(week))
    load = Table(title="Running load, last four weeks (minutes)", title_justify="left")
    for column in ("Week of", "Easy", "Long", "Hard", "Other sports"):
        load.add_column(column, justify="right" if column != "Week of" else "left")
    for week_load in view.load:
        load.add_row(
            f"{week_load.monday:%d %b}",
            Text(str(week_load.easy_min), style=LABEL_STYLES[Label.EASY]),
            Text(str(week_load.long_min), style=LABEL_STYLES[Label.LONG]),
            Text(str(week_load.hard_min), style=LABEL_STYLES[Label.HARD]),
            str(week_load.other_min),
        )
    parts.append(load)
    return Group(*parts)


@cli.command()
@pass_app
def week(app: App) -> int:
    """This week and next: runs with labels and reasons, strength sessions, load and sync health."""
    view = load_week_view(app.db, app.athlete(), app.config, app.now())
    app.console.print(week_renderable(view))
    return 0
