"""`runstrong-sync init`: the first-hour setup, asked on a terminal or given as flags."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import tomllib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from runstrong_sync import configfile
from runstrong_sync.cli.app import App, pass_app
from runstrong_sync.cli.group import cli
from runstrong_sync.config import WEEKDAYS, Equipment, default_config_path, pace_to_speed, validate
from runstrong_sync.errors import ConfigError

DEFAULT_INBOX = "~/runstrong/inbox"
EQUIPMENT: tuple[str, ...] = get_args(Equipment)
ZONEINFO_MARK = "zoneinfo/"


def detect_time_zone(environ: Mapping[str, str] | None = None) -> str:
    """The system's IANA time zone: $TZ, /etc/timezone, the /etc/localtime link; else UTC."""
    environ = os.environ if environ is None else environ
    candidates = [environ.get("TZ", "").removeprefix(":")]
    with contextlib.suppress(OSError):
        candidates.append(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    localtime = Path("/etc/localtime")
    if localtime.is_symlink():
        target = str(localtime.resolve())
        if ZONEINFO_MARK in target:
            candidates.append(target.split(ZONEINFO_MARK, 1)[1])
    for name in candidates:
        if name and not name.startswith(("/", "posix", "right")) and _known_zone(name):
            return name
    return "UTC"


def _known_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return "/" in name or name == "UTC"


def _zone(value: str) -> str:
    if not _known_zone(value.strip()):
        raise click.BadParameter(f"{value!r} is not an IANA time zone; use a name like Europe/Berlin")
    return value.strip()


def _words(allowed: Sequence[str], what: str) -> Callable[[str], list[str]]:
    def parse(value: str) -> list[str]:
        words = [
            w.strip().lower()[: 3 if what == "days" else None] for w in value.replace(" ", ",").split(",")
        ]
        words = list(dict.fromkeys(w for w in words if w))
        wrong = [w for w in words if w not in allowed]
        if wrong or not words:
            raise click.BadParameter(
                f"{what}: list some of {', '.join(allowed)} (not {', '.join(wrong) or 'none'})"
            )
        return words

    return parse


def _pace(value: str) -> str | None:
    if not value.strip():
        return None
    try:
        pace_to_speed(value.strip())
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    return value.strip()


def _bpm(low: int, high: int) -> Callable[[str], int | None]:
    def parse(value: str) -> int | None:
        if not str(value).strip():
            return None
        try:
            number = int(str(value).strip())
        except ValueError as exc:
            raise click.BadParameter(f"a whole number of beats per minute, not {value!r}") from exc
        if not low <= number <= high:
            raise click.BadParameter(f"between {low} and {high} bpm")
        return number

    return parse


# Each question: the option's name, its setting, the prompt, how to read an answer, the default.
QUESTIONS: tuple[tuple[str, str, str, Callable[[str], Any], Callable[[], str]], ...] = (
    ("name", "athlete.name", "Your name", str.strip, lambda: "Runner"),
    ("time_zone", "athlete.time_zone", "Time zone", _zone, detect_time_zone),
    ("inbox", "sources.fit.inbox", "Folder your watch's files arrive in", str.strip, lambda: DEFAULT_INBOX),
    (
        "experience",
        "athlete.experience",
        "Strength experience (beginner: under 6 months of lifting; or experienced)",
        _words(("beginner", "experienced"), "experience"),
        lambda: "beginner",
    ),
    (
        "equipment",
        "athlete.equipment",
        f"Equipment you have ({', '.join(EQUIPMENT)})",
        _words(EQUIPMENT, "equipment"),
        lambda: "bodyweight, bands",
    ),
    (
        "strength_days",
        "athlete.strength_days",
        "Days you can do strength work (mon..sun)",
        _words(WEEKDAYS, "days"),
        lambda: ", ".join(WEEKDAYS),
    ),
    ("max_hr", "athlete.max_hr", "Max heart rate in bpm (blank: not known)", _bpm(100, 230), str),
    (
        "threshold_hr",
        "athlete.threshold_hr",
        "Threshold heart rate in bpm (blank: not known)",
        _bpm(90, 220),
        str,
    ),
    ("resting_hr", "athlete.resting_hr", "Resting heart rate in bpm (blank: not known)", _bpm(25, 110), str),
    (
        "threshold_pace",
        "athlete.threshold_pace",
        "Threshold pace in min:s per km, about your 1-hour race pace (blank: not known)",
        _pace,
        str,
    ),
)


def _answers(given: dict[str, str | None], ask: bool) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for option, key, prompt, parse, default in QUESTIONS:
        raw = given.get(option)
        if raw is None and ask:
            value = click.prompt(prompt, default=default(), value_proc=parse, show_default=True)
        else:
            try:
                value = parse(raw if raw is not None else default())
            except click.BadParameter as exc:
                raise click.BadParameter(exc.message, param_hint=f"--{option.replace('_', '-')}") from exc
        if value is not None:
            answers[key] = value[0] if key == "athlete.experience" else value
    return answers


def write_new(path: Path, text: str, *, replace: bool) -> Path | None:
    """Write ``text`` to ``path`` atomically, readable by its owner only; never clobber without
    ``replace``. Returns where the old file was kept, if there was one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    temp = Path(temp_name)
    kept: Path | None = None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        temp.chmod(0o600)
        if replace and path.exists():
            kept = _free(path.with_name(path.name + ".bak"))
            os.link(path, kept)
            temp.replace(path)
        else:
            os.link(temp, path)  # fails if the file appeared meanwhile: nothing is overwritten
            temp.unlink()
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return kept


def _free(path: Path) -> Path:
    n = 1
    candidate = path
    while candidate.exists():
        candidate = path.with_name(f"{path.name}.{n}")
        n += 1
    return candidate


def _target(app: App) -> Path:
    return app.config_path or Path(os.environ.get("RUNSTRONG_CONFIG") or default_config_path())


@cli.command()
@click.option("--name", help="Your name, shown in the feed.")
@click.option("--time-zone", help="IANA time zone, e.g. Europe/Berlin (default: this computer's).")
@click.option("--inbox", help=f"Folder your watch's files arrive in; created (default {DEFAULT_INBOX}).")
@click.option("--experience", help="beginner (under 6 months of lifting) or experienced.")
@click.option("--equipment", help=f"Comma-separated: {', '.join(EQUIPMENT)}.")
@click.option("--strength-days", help="Comma-separated days for strength work: mon,tue,... (default: all).")
@click.option("--max-hr", help="Max heart rate in bpm, if known.")
@click.option("--threshold-hr", help="Threshold (lactate) heart rate in bpm, if known.")
@click.option("--resting-hr", help="Resting heart rate in bpm, if known.")
@click.option("--threshold-pace", help="Threshold pace in min:s per km (e.g. 4:45), if known.")
@click.option(
    "--yes", "-y", "no_questions", is_flag=True, help="Ask nothing: the flags given, else the defaults."
)
@click.option(
    "--force", is_flag=True, help="Replace an existing configuration file (the old one is kept as .bak)."
)
@pass_app
def init(app: App, /, no_questions: bool, force: bool, **given: str | None) -> int:
    """Write your configuration file, create the inbox folder and say what to run next.

    Asks on a terminal; with --yes (for scripts) it takes the flags given and the defaults. The
    file lists every other setting, commented out, with what it does.
    """
    target = _target(app).expanduser()
    if target.exists() and not force:
        raise click.UsageError(
            f"{target} already exists; it is left as it is. Add --force to replace it "
            "(the old one is kept beside it as .bak), or edit it."
        )
    if not no_questions and not sys.stdin.isatty():
        raise click.UsageError(
            "init asks its questions on a terminal, and there is none: add --yes (with the flags you "
            "want, see --help) to write the configuration without asking."
        )
    answers = _answers(given, ask=not no_questions)
    text = configfile.render(answers)
    try:
        validate(tomllib.loads(text), "The answers")
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    inbox = Path(answers["sources.fit.inbox"]).expanduser()
    try:
        inbox.mkdir(parents=True, exist_ok=True)
        kept = write_new(target, text, replace=force)
    except FileExistsError as exc:
        raise click.UsageError(f"{target} appeared meanwhile; it is left as it is.") from exc
    except OSError as exc:
        raise ConfigError(
            f"Could not write {exc.filename or target}: {exc.strerror or exc}.",
            ["Choose another place with --config PATH (or --inbox), or fix the folder's permissions."],
        ) from exc
    _print_next(app, target, inbox, kept)
    return 0


def _print_next(app: App, target: Path, inbox: Path, kept: Path | None) -> None:
    found = os.environ.get("RUNSTRONG_CONFIG") or str(default_config_path())
    prefix = (
        "runstrong-sync"
        if str(target) == str(Path(found).expanduser())
        else f"runstrong-sync --config {target}"
    )
    lines = [
        f"Wrote {target} (readable only by you).",
        f"Inbox: {inbox} (copy your .fit, .gpx or .tcx files there).",
    ]
    if kept is not None:
        lines.append(f"The previous file is kept as {kept}.")
    lines += [
        "Next:",
        f"  {prefix} sync     import the inbox, label the runs, plan, write the feed",
        f"  {prefix} plan     the strength sessions of the next 14 days, and why those days",
        f"  {prefix} serve    serve the calendar feed and print the address to subscribe to",
    ]
    app.console.print("\n".join(lines), highlight=False, soft_wrap=True)
