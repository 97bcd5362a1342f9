"""Running it for years: `status`, `daemon`, and `athletes add/list/remove`."""

from __future__ import annotations

import json
import logging
import tomllib
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click

from runstrong_sync import athletes, health, tzdetect
from runstrong_sync.cli.app import App, pass_app
from runstrong_sync.cli.group import cli
from runstrong_sync.config import Config
from runstrong_sync.errors import ConfigError
from runstrong_sync.sources import enabled_sources
from runstrong_sync.storage import runs, squad
from runstrong_sync.storage.models import Athlete

FEED_URL_PATH = "/feed/{token}/strength.ics"  # where the feed server serves the strength feed
STRAVA_AUTH_STATE = "strava.tokens"  # state the Strava connector keeps its tokens under
STRAVA_RATE_STATE = "strava.rate"  # ...and its last seen rate-limit usage
WAITING_SUFFIXES = (".fit", ".fit.gz", ".gpx", ".tcx", ".zip")
STATES = (STRAVA_AUTH_STATE, STRAVA_RATE_STATE)


def feed_url(config: Config, token: str) -> str:
    server = config.server
    base = (server.public_url or f"http://{server.host}:{server.port}").rstrip("/")
    return base + FEED_URL_PATH.format(token=token)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None


def _files_in(folder: Path | None) -> int | None:
    if folder is None:
        return None
    folder = folder.expanduser()
    if not folder.is_dir():
        return None
    return sum(1 for p in folder.iterdir() if p.is_file() and p.name.lower().endswith(WAITING_SUFFIXES))


def _zone_line(zone: dict[str, Any]) -> str:
    line = f"time zone: {zone['zone']} (from {zone['source']})"
    if zone["mismatch"]:
        line += f"; but {zone['mismatch']}"
    return line


def athlete_status(
    app: App,
    athlete: Athlete,
    now: datetime,
    config: Config | None = None,
    known: squad.AthleteFacts | None = None,
    zones: tuple[tzdetect.Observations, ZoneInfo | None] | None = None,
) -> dict[str, Any]:
    """One athlete's status; ``known`` and ``zones`` (observed zones, this machine's zone) may be
    read beforehand for a whole squad at once."""
    if config is None:
        config = athletes.effective_config(
            app.file_config, athlete.key, athlete.name, athlete.settings_json or {}
        )
    if known is None:
        with app.db.transaction() as session:
            known = squad.facts(session, [athlete.id], STATES)[athlete.id]
    fit = config.sources.fit
    last = known.last_runs
    rejected = known.rejected
    token = known.states.get(STRAVA_AUTH_STATE)
    rate = known.states.get(STRAVA_RATE_STATE)
    activities = known.activities
    configured = athletes.zone_configured(app.file_config, athlete.settings_json or {})
    if zones is None:
        with app.db.transaction() as session:
            zone = athletes.time_zone_choice(session, athlete.id, config, configured)
    else:
        zone = tzdetect.choose(config.athlete.time_zone if configured else None, *zones)
    watched = {runs.PIPELINE, *enabled_sources(config)}  # as the feed's notice: not sources turned off
    facts = [f for f in known.health if f.source in watched]
    notice = health.sync_notice(facts, now, timedelta(hours=config.feed.stale_after_hours))
    strava_last = next((r for r in last if r.source == "strava"), None)
    if not config.sources.strava.enabled:
        strava_access = "not used"
    elif token is None:
        strava_access = "not connected yet (run `runstrong-sync strava auth`)"
    elif strava_last is not None and strava_last.outcome == health.REAUTHORIZE:
        strava_access = "needs re-authorization (run `runstrong-sync strava auth`)"
    else:
        strava_access = "ok"
    rejected_dir = fit.rejected_dir or (fit.inbox / "rejected" if fit.inbox else None)
    return {
        "key": athlete.key,
        "name": athlete.name,
        "activities": activities,
        "feed_path": str(config.feed_path),
        "feed_url": feed_url(config, athlete.feed_token),
        "time_zone": {"zone": zone.name, "source": zone.source, "mismatch": zone.mismatch},
        "sources": [
            {
                "source": r.source,
                "started_at": _iso(r.started_at),
                "finished_at": _iso(r.finished_at),
                "outcome": r.outcome,
                "summary": r.summary_json,
            }
            for r in last
        ],
        "health": _health_text(notice, connected=token is not None),
        "strava": {"enabled": config.sources.strava.enabled, "token": strava_access, "rate_limit": rate},
        "files_waiting": _files_in(fit.inbox) if fit.enabled else None,
        "inbox": str(fit.inbox.expanduser()) if fit.inbox else None,
        "rejected": {"recorded": rejected, "in_folder": _files_in(rejected_dir)},
    }


def _health_text(notice: health.Notice | None, *, connected: bool) -> str | None:
    """The sync-health notice; an account that was never connected needs connecting, not again."""
    if notice is None:
        return None
    if notice.kind == health.REAUTHORIZE and not connected:
        return "Strava is not connected yet — run `runstrong-sync strava auth`"
    return notice.title


def _plain_text(values: Any) -> str:
    """A stored mapping as people read it ("used 12, limit 100"), never as a Python dict."""
    if isinstance(values, dict):
        return ", ".join(f"{k.replace('_', ' ')} {_plain_text(v)}" for k, v in values.items())
    if isinstance(values, list):
        return "/".join(_plain_text(v) for v in values)
    return str(values)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (see README).")
@pass_app
def status(app: App, as_json: bool) -> int:
    """Last sync of each source and its outcome, Strava token and rate limit, files waiting and
    rejected, the feed URL and the database in use (every athlete, or only --athlete)."""
    now = app.now()
    athletes.keys(app.db, app.file_config, now)  # the default athlete exists, as after any sync
    with app.db.transaction() as session:
        chosen = (
            [athletes.require(session, app.athlete_key)]
            if app.athlete_key
            else athletes.all_athletes(session)
        )
        known = squad.facts(
            session, [a.id for a in chosen] if app.athlete_key else None, (*STATES, athletes.ZONE_SAMPLE_KEY)
        )
        configs = athletes.effective_configs(app.file_config, chosen)
        system = tzdetect.system_zone()
        checked = [
            (
                a.id,
                athletes.zone_to_check(
                    configs[a.key], athletes.zone_configured(app.file_config, a.settings_json or {}), system
                ),
            )
            for a in chosen
        ]
        stored = {
            a.id: (known[a.id].states.get(athletes.ZONE_SAMPLE_KEY), known[a.id].fingerprint) for a in chosen
        }
        observed = athletes.squad_zones(session, checked, stored)
    data: dict[str, Any] = {
        "database": app.db.url,
        "config": str(app.file_config.source_path) if app.file_config.source_path else None,
        "athletes": [
            athlete_status(app, a, now, configs[a.key], known[a.id], (observed[a.id], system)) for a in chosen
        ],
    }
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return 0
    click.echo(f"database: {data['database']}")
    click.echo(f"configuration: {data['config'] or 'built-in defaults'}")
    if len(data["athletes"]) > SQUAD_AT:
        _squad_status(data["athletes"])
    else:
        _athletes_status(app, data["athletes"])
    return 0


SQUAD_AT = 20  # more athletes than this: one line each, not a block each


def _athletes_status(app: App, items: list[dict[str, Any]]) -> None:
    """Each athlete in full: their sources' last runs, Strava, files, feed and time zone."""
    from rich.table import Table  # a squad's one line each needs none

    out = app.console
    for item in items:
        click.echo(f"\n{item['name']} ({item['key']}): {item['activities']} activities")
        if item["health"]:
            click.secho(item["health"], fg="red", bold=True)
        table = Table("source", "last run", "outcome", "summary")
        for r in item["sources"]:
            summary = _plain_text({k: v for k, v in r["summary"].items() if k != "exit_status"})
            table.add_row(r["source"], r["started_at"] or "", r["outcome"], summary)
        if item["sources"]:
            out.print(table)
        else:
            click.echo("no sync yet")
        strava = item["strava"]
        rate = f", rate limit {_plain_text(strava['rate_limit'])}" if strava["rate_limit"] else ""
        click.echo(f"Strava: {strava['token']}{rate}")
        waiting = item["files_waiting"]
        click.echo(
            f"files waiting: {'-' if waiting is None else waiting} in {item['inbox'] or 'no inbox'}; "
            f"rejected: {item['rejected']['recorded']} recorded, "
            f"{item['rejected']['in_folder'] or 0} in the rejected folder"
        )
        click.echo(f"feed: {item['feed_path']}\nsubscribe: {item['feed_url']}")
        click.echo(_zone_line(item["time_zone"]))


def _squad_status(items: list[dict[str, Any]]) -> None:
    """A squad: one line per athlete (the whole run, Strava, files, problems), in one table."""
    rows: list[tuple[str, ...]] = []
    for item in items:
        run = next((r for r in item["sources"] if r["source"] == runs.PIPELINE), None)
        waiting = item["files_waiting"]
        rows.append(
            (
                item["key"],
                item["name"],
                str(item["activities"]),
                (run["started_at"] or "") if run else "no sync yet",
                run["outcome"] if run else "",
                item["strava"]["token"].split(" (", 1)[0],
                "-" if waiting is None else str(waiting),
                str(item["rejected"]["recorded"]),
                item["time_zone"]["zone"] + (" (contradicted)" if item["time_zone"]["mismatch"] else ""),
                item["health"] or "",
            )
        )
    headers = (
        "key",
        "name",
        "activities",
        "last sync",
        "outcome",
        "Strava",
        "waiting",
        "rejected",
        "time zone",
        "problem",
    )
    click.echo(f"\n{len(items)} athletes:")
    click.echo(plain_table(headers, rows))
    click.echo(
        "\nEach athlete's sources, files and feed URL: runstrong-sync --athlete KEY status "
        "(all of it: status --json)."
    )


def plain_table(headers: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> str:
    """Columns aligned with spaces, for lists too long for a drawn table (a squad of hundreds)."""
    widths = [max(len(h), *(len(r[c]) for r in rows)) if rows else len(h) for c, h in enumerate(headers)]
    lines = [headers, tuple("-" * w for w in widths), *rows]
    return "\n".join(
        "  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip() for line in lines
    )


@cli.command()
@click.option(
    "--catch-up/--no-catch-up",
    default=True,
    show_default=True,
    help="Sync at start when the last successful sync is over a day old (or there was none).",
)
@pass_app
def daemon(app: App, catch_up: bool) -> int:
    """Run the nightly sync ([daemon] sync_time), optional polling, the folder watcher and the feed
    server in one process. SIGTERM or SIGINT finish the current file, then stop."""
    logging.getLogger("runstrong_sync").setLevel(logging.INFO)
    from runstrong_sync.daemon import Daemon  # with the pipeline: only the daemon needs them

    Daemon(app.file_config, app.db, catch_up=catch_up).run_forever()
    return 0


@cli.group("athletes")
def athletes_group() -> None:
    """Several athletes in one install (a coach and a squad): each with their own sources,
    settings and secret feed URL."""


def _read_settings(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"Settings file {path} cannot be read: {exc.strerror or exc}.") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Settings file {path} is not valid TOML: {exc}.") from exc


@athletes_group.command("add")
@click.argument("key")
@click.option("--name", help="Shown in the feed and in `status` (default: the key).")
@click.option(
    "--settings",
    "settings_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="TOML file with this athlete's [athlete], [planner], [sources] and [feed] sections.",
)
@click.option("--time-zone", help="The athlete's IANA time zone (else the configuration file's).")
@pass_app
def athletes_add(
    app: App, key: str, name: str | None, settings_path: Path | None, time_zone: str | None
) -> int:
    """Add an athlete; prints their secret feed URL."""
    settings = _read_settings(settings_path)
    if time_zone:
        settings.setdefault("athlete", {})["time_zone"] = time_zone
    athlete = athletes.add(app.db, app.file_config, key, name or key, settings, app.now())
    config = athletes.effective_config(app.file_config, key, athlete.name, settings)
    click.echo(
        f"added {athlete.key} ({athlete.name})\nfeed file: {config.feed_path}\n"
        f"subscribe: {feed_url(config, athlete.feed_token)}\n"
        f"sync only this athlete: runstrong-sync --athlete {athlete.key} sync"
    )
    return 0


@athletes_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def athletes_list(app: App, as_json: bool) -> int:
    """Every athlete with their feed file and URL."""
    athletes.keys(app.db, app.file_config, app.now())
    with app.db.transaction() as session:
        rows = athletes.all_athletes(session)
        counts = squad.activity_counts(session)
    configs = athletes.effective_configs(app.file_config, rows)
    items: list[dict[str, Any]] = []
    for a in rows:
        config = configs[a.key]
        items.append(
            {
                "key": a.key,
                "name": a.name,
                "activities": counts.get(a.id, 0),
                "feed_path": str(config.feed_path),
                "feed_url": feed_url(config, a.feed_token),
                "settings": a.settings_json or {},
            }
        )
    if as_json:
        click.echo(json.dumps(items, indent=2, ensure_ascii=False, default=str))
        return 0
    headers = ("key", "name", "activities", "feed file", "feed URL")
    lines = [(i["key"], i["name"], str(i["activities"]), i["feed_path"], i["feed_url"]) for i in items]
    if len(lines) > SQUAD_AT:
        click.echo(plain_table(headers, lines))
        return 0
    from rich.table import Table

    table = Table(*headers)
    for line in lines:
        table.add_row(*line)
    app.console.print(table)
    return 0


@athletes_group.command("remove")
@click.argument("key")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_app
def athletes_remove(app: App, key: str, yes: bool) -> int:
    """Remove an athlete and everything stored for them (their feed file is left in place)."""
    if key == athletes.DEFAULT_ATHLETE:
        raise ConfigError(
            "The default athlete cannot be removed; it is the one the configuration file describes."
        )
    if not yes:
        from runstrong_sync.cli.edit import confirm

        confirm(f"Remove athlete {key!r} and all their activities and plans?")
    count = athletes.remove(app.db, key)
    click.echo(f"removed {key} and {count} activities")
    return 0
