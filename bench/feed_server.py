"""Feed server throughput against nginx serving the same file, and feed generation time.

    python bench/feed_server.py [--seconds 3] [--repeat 3] [--connections 32]

Needs `wrk` and `nginx` on PATH (Debian: apt-get install -y wrk nginx). Writes a one-year feed
(52 weeks back, 2 ahead, three sessions a week) into a temporary folder, starts
`runstrong-sync serve` (granian) on it with one and two workers, and, when installed, uvicorn
with httptools on the same application; starts nginx on the same file; then loads each with wrk
over loopback for full GETs and for conditional GETs (If-None-Match, answered 304). Prints
requests per second and the ratio to nginx with the same number of worker processes, measured
in the same run. Our server writes its access log (to a file) and so does nginx.
Then times build_feed over 1 and 5 years of stored sessions.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from runstrong_sync import pipeline
from runstrong_sync.config import Config
from runstrong_sync.domain import Exercise, StrengthSession
from runstrong_sync.feed import FeedSettings, build_feed
from runstrong_sync.plan import reconcile
from runstrong_sync.storage import repo
from runstrong_sync.storage.db import open_database
from runstrong_sync.vtimezone import transitions

ZONE = "Europe/Berlin"
SERVE = [sys.executable, "-m", "runstrong_sync", "serve"]
TODAY = date(2026, 11, 23)
EXERCISES = (
    Exercise("Split squat", "single_leg", 3, reps=8, per_side=True, cue="Knee over the foot; hips low"),
    Exercise("Single-leg calf raise", "calves", 3, reps=12, per_side=True, cue="Full range, slow down"),
    Exercise("Glute bridge", "glutes", 3, reps=12, cue="Ribs down, squeeze at the top"),
    Exercise("Side plank", "core", 2, hold_s=30, per_side=True, cue="Stack the hips; breathe"),
    Exercise("Dead bug", "core", 2, reps=10, per_side=True, cue="Low back stays down"),
)


def sessions(weeks: int, last_monday: date) -> list[StrengthSession]:
    tz = ZoneInfo(ZONE)
    out = []
    for week in range(weeks):
        monday = last_monday - timedelta(weeks=weeks - 1 - week)
        for slot, weekday in enumerate((0, 2, 4)):
            day = monday + timedelta(days=weekday)
            out.append(
                StrengthSession(
                    uid=f"default-{day.isoformat()}-{slot}@runstrong-sync",
                    start=datetime(day.year, day.month, day.day, 18, 30, tzinfo=tz),
                    duration_min=35,
                    focus=("glutes", "calves"),
                    exercises=EXERCISES,
                    why="Easy-run day, two days before Sunday's long run and after Tuesday's intervals.",
                    changed_at=datetime(2026, 1, 1, tzinfo=UTC),
                )
            )
    return out


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                response.read()
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def etag_of(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        response.read()
        return str(response.headers["ETag"])


def wrk(url: str, seconds: int, connections: int, headers: list[str]) -> float:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for header in headers:
        command += ["-H", header]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    if "Non-2xx or 3xx responses" in out:
        raise RuntimeError(f"errors while loading {url}:\n{out}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert match, out
    return float(match.group(1))


def nginx(folder: Path, feed: Path, token: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    conf = folder / f"nginx-{workers}.conf"
    conf.write_text(
        f"""
worker_processes {workers};
daemon off;
pid {folder}/nginx-{workers}.pid;
error_log {folder}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log {folder}/nginx-access.log;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    types {{ }}
    client_body_temp_path {folder}/nginx-tmp;
    proxy_temp_path {folder}/nginx-tmp;
    fastcgi_temp_path {folder}/nginx-tmp;
    uwsgi_temp_path {folder}/nginx-tmp;
    scgi_temp_path {folder}/nginx-tmp;
    server {{
        listen 127.0.0.1:{port};
        location = /feed/{token}/strength.ics {{
            default_type "text/calendar; charset=utf-8";
            alias {feed};
        }}
    }}
}}
""",
        encoding="utf-8",
    )
    (folder / "nginx-tmp").mkdir(exist_ok=True)
    return subprocess.Popen(["nginx", "-c", str(conf), "-p", str(folder)], stderr=subprocess.DEVNULL)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def measure(name: str, url: str, args: argparse.Namespace) -> tuple[float, float]:
    wait_for(url)
    etag = etag_of(url)
    wrk(url, 1, args.connections, [])  # warm up
    full = statistics.median(wrk(url, args.seconds, args.connections, []) for _ in range(args.repeat))
    conditional = statistics.median(
        wrk(url, args.seconds, args.connections, [f"If-None-Match: {etag}"]) for _ in range(args.repeat)
    )
    print(f"  {name:<44} {full:>10,.0f} {conditional:>12,.0f}", flush=True)
    return full, conditional


def serve_benchmark(args: argparse.Namespace) -> None:
    for tool in ("wrk", "nginx"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed (Debian: apt-get install -y wrk nginx)")
    with tempfile.TemporaryDirectory(prefix="runstrong-bench-") as name:
        folder = Path(name)
        folder.chmod(0o755)  # nginx workers run as another user when started by root
        config_path = folder / "config.toml"
        config_path.write_text(
            f'data_dir = "{folder / "data"}"\n[athlete]\ntime_zone = "{ZONE}"\n[feed]\npast_weeks = 52\n',
            encoding="utf-8",
        )
        config = Config.model_validate(
            {"data_dir": str(folder / "data"), "athlete": {"time_zone": ZONE}, "feed": {"past_weeks": 52}}
        )
        db = open_database(config.database_url)
        now = datetime(2026, 11, 23, 3, 30, tzinfo=ZoneInfo(ZONE))
        athlete = pipeline.athlete_id(db, config, now)
        planned = reconcile(sessions(54, date(2026, 11, 30)), [], now)
        with db.transaction() as session:
            repo.save_sessions(session, athlete, planned, ZONE, now)
            token = repo.feed_token(session, athlete)
        feed, _ = pipeline.publish(db, athlete, config, now)
        db.dispose()
        size = feed.stat().st_size
        print(f"One-year feed: {size:,} bytes, {feed.read_bytes().count(b'BEGIN:VEVENT')} events")
        print(
            f"wrk: 1 thread, {args.connections} connections, "
            f"median of {args.repeat} runs of {args.seconds} s, "
            f"{os.cpu_count()} CPUs"
        )
        print(f"  {'server':<44} {'full GET/s':>10} {'304 GET/s':>12}")
        path = f"/feed/{token}/strength.ics"
        environ = {**os.environ, "RUNSTRONG_CONFIG": str(config_path)}
        results: dict[str, tuple[float, float]] = {}

        for workers in (1, 2):
            port = free_port()
            process = nginx(folder, feed, token, port, workers)
            try:
                results[f"nginx-{workers}"] = measure(
                    f"nginx, {workers} worker(s)", f"http://127.0.0.1:{port}{path}", args
                )
            finally:
                stop(process)

        commands = {
            "serve-1": ["runstrong-sync serve (granian), 1 worker", [*SERVE, "--workers", "1"]],
            "serve-2": ["runstrong-sync serve (granian), 2 workers", [*SERVE, "--workers", "2"]],
        }
        if shutil.which("uvicorn"):
            factory = "runstrong_sync.server.app:from_environment"
            uvicorn = ["uvicorn", "--factory", factory, "--http", "httptools"]
            commands["uvicorn-1"] = ["uvicorn + httptools, 1 worker", [*uvicorn, "--no-access-log"]]
        for key, (label, command) in commands.items():
            port = free_port()
            with (folder / f"{key}.log").open("w") as log:
                process = subprocess.Popen(
                    [*command, "--host", "127.0.0.1", "--port", str(port)],
                    env=environ,
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                )
                try:
                    results[key] = measure(label, f"http://127.0.0.1:{port}{path}", args)
                finally:
                    stop(process)

        print("Ratios to nginx with the same number of workers (goal: at least 0.5):")
        for name, (full, conditional) in results.items():
            if name.startswith("nginx"):
                continue
            workers = name.rsplit("-", 1)[1]
            base_full, base_conditional = results[f"nginx-{workers}"]
            print(
                f"  {name:<12} full {full / base_full:.2f}   conditional {conditional / base_conditional:.2f}"
                f"   (vs nginx with 2 workers: {full / results['nginx-2'][0]:.2f} / "
                f"{conditional / results['nginx-2'][1]:.2f})"
            )


def generation_benchmark() -> None:
    print("Feed generation (build_feed, median of 5; the zone's rules are read once and cached):")
    transitions.cache_clear()
    started = time.perf_counter()
    build_feed(sessions(1, date(2026, 11, 30)), FeedSettings(name="x", time_zone=ZONE), TODAY)
    elapsed = (time.perf_counter() - started) * 1000
    print(f"  first call, reading the zone's transitions since 1970: {elapsed:.1f} ms")
    for years in (1, 5):
        history = sessions(52 * years + 2, date(2026, 11, 30))
        for past_weeks in (4, 52):
            settings = FeedSettings(name="x", time_zone=ZONE, past_weeks=past_weeks, future_weeks=2)
            times = []
            for _ in range(5):
                started = time.perf_counter()
                data = build_feed(history, settings, TODAY)
                times.append(time.perf_counter() - started)
            print(
                f"  {years} year(s) of history ({len(history)} sessions), window {past_weeks} weeks back: "
                f"{statistics.median(times) * 1000:.1f} ms, {len(data):,} bytes"
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=3, help="length of one wrk run")
    parser.add_argument("--repeat", type=int, default=3, help="wrk runs per figure (the median is shown)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--no-server", action="store_true", help="only time feed generation")
    args = parser.parse_args()
    if not args.no_server:
        serve_benchmark(args)
    generation_benchmark()


if __name__ == "__main__":
    main()
