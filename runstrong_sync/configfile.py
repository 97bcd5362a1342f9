"""The configuration file as people read it: every setting described, every example commented out.

``TEMPLATE`` is the whole file with each setting as a commented line ``# key = value`` (the
default, or an example where the comment says so). ``render(answers)`` makes it live where the
runner answered (``runstrong-sync init``); with no answers it is ``config.example.toml``, which a
test keeps identical. Nothing here is read back: the file is loaded by ``config.load_config``.

A new setting goes into ``TEMPLATE`` (commented out, under a line saying what it does); then
``python -c "from runstrong_sync import configfile; print(configfile.render({}), end='')" >
config.example.toml`` writes the example again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import time
from typing import Any

SETTING = re.compile(r"^# ([a-z_]+) = (.*)$")  # a commented-out setting; prose never looks like this
SECTION = re.compile(r"^\[([a-z_.]+)\]$")

TEMPLATE = """\
# runstrong-sync configuration (`runstrong-sync init` writes one for you). It lives at
# ~/.config/runstrong-sync/config.toml, or wherever --config / RUNSTRONG_CONFIG points.
# Every setting is optional and commented out: a line "# key = value" shows the default, or an
# example where the comment says so. Remove the "# " in front of a setting to use it.
# Secrets are better kept in RUNSTRONG_* environment variables than in this file.

# Where the database and the feed live (default: the user data dir, e.g.
# ~/.local/share/runstrong-sync). Environment: RUNSTRONG_DATA_DIR.
# data_dir = "~/.local/share/runstrong-sync"  # example

[athlete]
# Your name, shown in the feed and on the status page.
# name = "Runner"
# IANA time zone: sessions are placed on your local days and times. Without it: the zone Strava
# gives your activities, else this machine's (`runstrong-sync zones` says which, and why).
# time_zone = "Europe/Berlin"  # example
# Heart-rate thresholds in bpm, if you know them. Unknown ones are taken from Strava's zones
# or estimated from your runs (see `runstrong-sync zones`).
# max_hr = 188  # example; 100-230
# Lactate-threshold heart rate in bpm (90-220).
# threshold_hr = 168  # example
# Resting heart rate in bpm (25-110).
# resting_hr = 50  # example
# Threshold pace in min:s per km (about your 1-hour race pace).
# threshold_pace = "4:15"  # example
# Age in years: used only to estimate max HR when nothing better is known.
# age = 40  # example
# "beginner" (under 6 months of lifting: form first, bodyweight and bands) or "experienced".
# experience = "beginner"
# What you have: any of "bodyweight", "bands", "dumbbells", "kettlebells".
# equipment = ["bodyweight", "bands"]
# Days you can do strength work: "mon" .. "sun".
# strength_days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
# Preferred start time for strength sessions (local, HH:MM:SS).
# strength_time = 18:30:00
# Thresholds that held before a date: runs before `until` are judged by these (the ones left
# out are estimated from that time's runs), later runs by the values above. One entry per change.
# earlier = [{ until = 2025-03-01, threshold_hr = 162, threshold_pace = "4:40" }]  # example

[sources.fit]
# Import FIT, GPX and TCX files (plain or .gz) and Garmin/Strava export zips from a folder on
# every sync, and as they arrive under `runstrong-sync watch`.
# enabled = true
# The folder your watch or sync tool drops files into (no default: the FIT source is off
# without one). Environment: RUNSTRONG_FIT_INBOX.
# inbox = "~/runstrong/inbox"  # example
# After a file is imported: "archive" (move it to archive_dir) or "leave" (keep it in place).
# after_import = "archive"
# Where imported files go (default: <inbox>/archive).
# archive_dir = "~/runstrong/inbox/archive"  # example
# Where files that cannot be imported are set aside, each beside a .reason.txt
# (default: <inbox>/rejected).
# rejected_dir = "~/runstrong/inbox/rejected"  # example
# A file is read once it is unchanged this many seconds (and, on Linux, closed by the writer),
# so a copy in progress is never half-read.
# settle_seconds = 5.0

[sources.strava]
# Sync activities from Strava (run `runstrong-sync strava auth` once).
# enabled = false
# Your Strava API application's id. Environment: RUNSTRONG_STRAVA_CLIENT_ID.
# client_id = "12345"  # example
# Its secret: better in the environment, RUNSTRONG_STRAVA_CLIENT_SECRET.
# client_secret = "..."  # example
# Where Strava's API lives: change only for a proxy or a test server.
# Environment: RUNSTRONG_STRAVA_API_BASE_URL.
# api_base_url = "https://www.strava.com"
# Each sync looks this many days behind the newest known activity, to catch edits and deletions.
# lookback_days = 14
# Fetch HR/speed streams: "auto" (only when the summary cannot decide the label), "always" or "never".
# streams = "auto"
# At most this many stream requests per sync.
# stream_budget = 20
# Requests left unused in each 15-minute and daily window, so other apps and tomorrow still have some.
# rate_limit_reserve = 10
# The token Strava echoes when a webhook subscription is created.
# Environment: RUNSTRONG_STRAVA_WEBHOOK_VERIFY_TOKEN.
# webhook_verify_token = "a-long-random-string"  # example

[sources.garmin]
# Sync activities from Garmin Connect (pip install 'runstrong-sync[garmin]', then run
# `runstrong-sync garmin auth` once). Each sync downloads the original FIT file of every new
# activity and imports it like a file dropped in the inbox.
# enabled = false
# Each sync looks this many days behind the newest known Garmin activity.
# lookback_days = 7
# Write the planned strength sessions to Garmin Connect as workouts scheduled on their day, so
# they reach the watch. Only workouts runstrong-sync made are ever changed or removed.
# push_workouts = false

[planner]
# Strength sessions per week: at least this many when legal days allow...
# min_sessions = 2
# ...and at most this many (beginners at most 2; 1 in the two weeks before an A or B race).
# max_sessions = 3
# Hours between two strength sessions (the same muscles need 48 h).
# min_hours_between = 48
# On an easy-run day strength goes right after the run (0: the run is the warm-up). Set 6 for the
# ~6 h separation that suits the lift's quality, if your day allows it.
# gap_after_run_hours = 0.0
# "Hard days hard": when rest, cross-training and easy days cannot hold min_sessions, a session may
# go on a hard-run day, at least 4 h (or gap_after_run_hours, if longer) after the run, never when
# the next day is a hard run, a long run or a race. Off (the default): never on a hard-run day.
# hard_days_hard = false
# On a hard-run day, strength right after the run instead of at least 4 h later.
# hard_day_right_after = false
# Opt-in: when a week has too few legal days, a short core-and-hip session on the day before a
# hard or long run. Off by default: never before hard workouts or long runs.
# light_day_before = false
# The latest a session may start, as a time (21:30:00), or "auto": learned from when you run (an
# evening runner lifts after the evening run), never earlier than 21:00.
# latest_start = "auto"
# Sessions starting within this many hours stay put unless a rule would break (calendars refresh slowly).
# stable_hours = 48
# Weeks of history used to learn your weekly pattern (long run on Sundays, intervals on Tuesdays...).
# history_weeks = 6
# Your training plan's calendar feed (file path or https URL), to know upcoming key runs; events
# are read by their titles (intervals, tempo, long run, easy...). Unset: your usual week is used.
# upcoming_runs_ics = "https://example.org/my-plan.ics"  # example
# Races: A races drop heavy leg work in the last two weeks; all priorities reduce strength volume.
# After a race no strength for 3 (5 K) to 14 (marathon) days by distance_km (or the name), then a
# short first week back without plyometrics or heavy leg work.
# races = [{ date = 2027-04-25, name = "Spring marathon", priority = "A", distance_km = 42.2 }]  # example

[feed]
# Where `sync` and `feed` write the calendar (default: <data_dir>/runstrong.ics).
# path = "~/.local/share/runstrong-sync/runstrong.ics"  # example
# The calendar's name in your calendar app.
# name = "Strength for running"
# The feed covers this many weeks back (a rolling window keeps it under Google's 1 MB limit)...
# past_weeks = 4
# ...and this many weeks ahead.
# future_weeks = 2
# Suggested refresh interval for calendar apps, in minutes (REFRESH-INTERVAL and X-PUBLISHED-TTL).
# refresh_minutes = 360
# All-day events instead of timed ones.
# all_day = false
# Show sessions as busy (true) or free (false).
# busy = true
# A reminder this many minutes before each session (none by default; Google and Outlook ignore it).
# alarm_minutes = 30  # example
# Also publish a feed of your runs with their labels.
# runs_feed = false
# Also publish a busy-only feed (titles without details), e.g. to share with a work calendar.
# busy_only_feed = false
# Put a warning event in the feed when the last successful sync is older than this.
# stale_after_hours = 48

[server]
# `runstrong-sync serve` listens on this address; keep 127.0.0.1 behind a reverse proxy...
# host = "127.0.0.1"
# ...and this port.
# port = 8765
# The address calendar apps use to reach the server (for the printed subscribe links).
# public_url = "https://calendar.example.org"  # example
# Limits against misbehaving clients. The largest request head in bytes (a larger one is refused):
# max_header_bytes = 16384
# The largest request body in bytes (the Strava webhook; a larger one gets 413 unread):
# max_body_bytes = 65536
# Seconds a client may take to send its request head before it is dropped:
# header_timeout_s = 10.0
# Requests one worker handles at once (more wait for their turn):
# max_requests = 1024

[daemon]
# `runstrong-sync daemon` runs the sync at this local time every day.
# sync_time = 03:30:00
# Also poll every N minutes through the day (0: only the nightly sync).
# poll_minutes = 0

[database]
# Any SQLAlchemy URL, e.g. "postgresql+psycopg://user@localhost/runstrong".
# Default: a SQLite file in data_dir. Environment: RUNSTRONG_DATABASE_URL.
# url = "sqlite:////srv/runstrong/runstrong.sqlite"  # example
"""


def toml_value(value: Any) -> str:
    """``value`` as a TOML value (strings in the JSON escapes TOML also understands)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, time):
        return value.strftime("%H:%M:%S")
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)


def render(answers: Mapping[str, Any]) -> str:
    """The template with ``answers`` ("athlete.name": "Anna", ...) as live settings.

    Each answered setting replaces its commented-out line, under its own description."""
    left = dict(answers)
    section = ""
    out = []
    for line in TEMPLATE.splitlines():
        header = SECTION.match(line)
        if header:
            section = header.group(1) + "."
        setting = SETTING.match(line)
        key = section + setting.group(1) if setting else None
        if key is not None and key in left:
            line = f"{setting.group(1) if setting else ''} = {toml_value(left.pop(key))}"
        out.append(line)
    if left:
        raise KeyError(f"not settings of the configuration file: {', '.join(sorted(left))}")
    return "\n".join(out) + "\n"


def uncommented(text: str) -> str:
    """Every commented-out setting made live (examples included): to check the file's settings."""
    lines = []
    for line in text.splitlines():
        setting = SETTING.match(line)
        lines.append(f"{setting.group(1)} = {setting.group(2)}" if setting else line)
    return "\n".join(lines) + "\n"
