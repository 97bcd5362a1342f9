"""Feed server throughput against nginx serving the same file, idle cost, and feed generation time.

    python bench/feed_server.py [--quick] [--seconds 3] [--repeat 3] [--connections 32] [--workers 1]

Needs `wrk` and `nginx` on PATH (Debian: apt-get install -y wrk nginx); runs from a test install
(nothing beyond the project's own dependencies). Writes a one-year feed (52 weeks back, 2 ahead,
three sessions a week) into a temporary folder, with 1 and with 1,000 athletes in the database,
starts `runstrong-sync serve` (granian) on it and nginx on the same file, one worker each (and two
each without --quick, or as --workers says), and loads both with wrk over loopback for full GETs,
gzip GETs (Accept-Encoding: gzip; nginx compresses with gzip on) and conditional GETs
(If-None-Match, answered 304); the two servers take turns run by run, so that other work on the
machine weighs on both alike. With them runs the ceiling of our server's stack
(bench/feed_ceiling.py): granian started as serve starts it, answering the same bytes from an RSGI
application that does nothing else; it shows how much of the gap to nginx is our code's and how
much granian's. Prints requests per second, ours/nginx (goal: at least 0.8), ceiling/nginx and
ours/ceiling, all measured in the same run, and the server's CPU use while idle for 5 s after the
load (goal: about 0).
Both write an access log to a file. Then times build_feed over 1 and 5 years of stored sessions.
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

from runstrong_sync import pipeline, publishing
from runstrong_sync.config import Config
from runstrong_sync.core.domain import Exercise, StrengthSession
from runstrong_sync.core.plan import reconcile
from runstrong_sync.feed import FeedSettings, build_feed
from runstrong_sync.storage import repo
from runstrong_sync.storage.db import open_database
from runstrong_sync.vtimezone import transitions

ZONE = "Europe/Berlin"
SERVE = [sys.executable, "-m", "runstrong_sync", "serve"]
CEILING = Path(__file__).with_name("feed_ceiling.py")
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


def ports(count: int) -> list[int]:
    """``count`` different free ports."""
    found: list[int] = []
    while len(found) < count:
        port = free_port()
        if port not in found:
            found.append(port)
    return found


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
        raise RuntimeError(f"errors while loading {url} ({headers}):\n{out}")
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
    gzip on;
    gzip_types text/calendar;
    types {{ }}
    client_body_temp_path {folder}/nginx-tmp;
    proxy_temp_path {folder}/nginx-tmp;
    fastcgi_temp_path {folder}/nginx-tmp;
    uwsgi_temp_path {folder}/nginx-tmp;
    scgi_temp_path {folder}/nginx-tmp;
    server {{
        listen 127.0.0.1:{port};
        location = /feed/{token}/strength.ics {{
            default_type "text/calendar";
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


KINDS = ("full", "gzip", "304")


def measure(urls: dict[str, dict[str, str]], args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """Requests/s of each server (name -> kind -> URL of the same feed) for each kind of GET;
    the conditional GET names the ETag the server gave (the ceiling's is ours). The servers take
    turns, run by run, so a burst of other work on the machine falls on all alike."""
    headers: dict[str, dict[str, list[str]]] = {}
    for name, by_kind in urls.items():
        wait_for(by_kind["full"])
        etag = etag_of(by_kind["full"])
        headers[name] = {"full": [], "gzip": ["Accept-Encoding: gzip"], "304": [f"If-None-Match: {etag}"]}
        wrk(by_kind["full"], 1, args.connections, [])  # warm up
    runs: dict[str, dict[str, list[float]]] = {name: {kind: [] for kind in KINDS} for name in urls}
    for kind in KINDS:
        for _ in range(args.repeat):
            for name, by_kind in urls.items():
                runs[name][kind].append(
                    wrk(by_kind[kind], args.seconds, args.connections, headers[name][kind])
                )
    figures = {name: {kind: statistics.median(runs[name][kind]) for kind in KINDS} for name in urls}
    for name, row in figures.items():
        print(f"  {name:<40}" + "".join(f" {row[k]:>10,.0f}" for k in KINDS), flush=True)
    return figures


def process_cpu_seconds(pid: int) -> float:
    """CPU seconds of a process and its children (granian's workers), from /proc."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for each in pids:
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def make_install(folder: Path, athletes: int) -> tuple[Path, Path, str]:
    """A configuration, a database with ``athletes`` athletes, and the default athlete's feed."""
    data = folder / "data"
    config_path = folder / "config.toml"
    config_path.write_text(
        f'data_dir = "{data}"\n[athlete]\ntime_zone = "{ZONE}"\n[feed]\npast_weeks = 52\n',
        encoding="utf-8",
    )
    config = Config.model_validate(
        {"data_dir": str(data), "athlete": {"time_zone": ZONE}, "feed": {"past_weeks": 52}}
    )
    db = open_database(config.database_url)
    now = datetime(2026, 11, 23, 3, 30, tzinfo=ZoneInfo(ZONE))
    athlete = pipeline.athlete_id(db, config, now)
    planned = reconcile(sessions(54, date(2026, 11, 30)), [], now)
    with db.transaction() as session:
        repo.save_sessions(session, athlete, planned, ZONE, now)
        token = repo.feed_token(session, athlete)
        for number in range(1, athletes):
            repo.ensure_athlete(session, f"athlete{number:04d}", f"Runner {number}", now)
    feed, _ = publishing.publish(db, athlete, config, now)
    db.dispose()
    return config_path, feed, token


def ceiling(folder: Path, feed: Path, token: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    """bench/feed_ceiling.py: the same granian setup answering the same bytes, doing nothing else."""
    command = [sys.executable, str(CEILING), str(feed), token, "127.0.0.1", str(port), str(workers)]
    environ = {**os.environ, "PYTHONPATH": os.pathsep.join([str(CEILING.parent), *sys.path])}
    with (folder / "ceiling.log").open("w") as log:
        return subprocess.Popen(command, env=environ, stdout=subprocess.DEVNULL, stderr=log)


def ratio_line(figures: dict[str, dict[str, float]], top: str, bottom: str) -> str:
    return "   ".join(f"{kind} {figures[top][kind] / figures[bottom][kind]:.2f}" for kind in KINDS)


def serve_benchmark(args: argparse.Namespace) -> None:
    for tool in ("wrk", "nginx"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed (Debian: apt-get install -y wrk nginx)")
    print(
        f"wrk: 1 thread, {args.connections} connections, median of {args.repeat} run(s) of "
        f"{args.seconds} s, {os.cpu_count()} CPUs"
    )
    ratios: dict[str, list[str]] = {"ours/nginx": [], "ceiling/nginx": [], "ours/ceiling": []}
    for athletes in (1, 1000):
        with tempfile.TemporaryDirectory(prefix="runstrong-bench-") as name:
            folder = Path(name)
            folder.chmod(0o755)  # nginx workers run as another user when started by root
            config_path, feed, token = make_install(folder, athletes)
            print(f"{athletes} athlete(s); feed {feed.stat().st_size:,} bytes")
            print(f"  {'server':<40}" + "".join(f" {k + ' GET/s':>10}" for k in KINDS))
            path = f"/feed/{token}/strength.ics"
            environ = {**os.environ, "RUNSTRONG_CONFIG": str(config_path)}
            for workers in args.workers:
                nginx_port, our_port, top_port = ports(3)
                command = [*SERVE, "--workers", str(workers), "--host", "127.0.0.1", "--port", str(our_port)]
                base = f"nginx, {workers} worker(s)"
                ours = f"runstrong-sync serve, {workers} worker(s)"
                top = f"ceiling (fixed RSGI answer), {workers} worker(s)"
                urls = {
                    base: dict.fromkeys(KINDS, f"http://127.0.0.1:{nginx_port}{path}"),
                    ours: dict.fromkeys(KINDS, f"http://127.0.0.1:{our_port}{path}"),
                    top: {kind: f"http://127.0.0.1:{top_port}/feed/{token}/{kind}.ics" for kind in KINDS},
                }
                with (folder / "serve.log").open("w") as log:
                    server = subprocess.Popen(command, env=environ, stdout=subprocess.DEVNULL, stderr=log)
                    wait_for(urls[ours]["full"])
                    # serve keeps its data folder private as it starts; nginx's workers may run
                    # as another user
                    feed.parent.chmod(0o755)
                    feed.chmod(0o644)
                    process = nginx(folder, feed, token, nginx_port, workers)
                    fixed = ceiling(folder, feed, token, top_port, workers)
                    try:
                        figures = measure(urls, args)
                        stop(process)
                        stop(fixed)
                        before = process_cpu_seconds(server.pid)
                        time.sleep(args.idle)
                        idle = (process_cpu_seconds(server.pid) - before) / args.idle
                    finally:
                        stop(process)
                        stop(fixed)
                        stop(server)
                print(f"  idle after the load: {idle * 100:.2f}% of one core over {args.idle:.0f} s")
                where = f"  {athletes:>5} athlete(s), {workers} worker(s): "
                ratios["ours/nginx"].append(
                    where + ratio_line(figures, ours, base) + f"   idle CPU {idle * 100:.2f}%"
                )
                ratios["ceiling/nginx"].append(where + ratio_line(figures, top, base))
                ratios["ours/ceiling"].append(where + ratio_line(figures, ours, top))
    print("Requests/s, same file, same run; ours = runstrong-sync serve (goal: ours/nginx at least 0.8),")
    print("ceiling = granian as serve runs it, answering the same bytes from a fixed RSGI application:")
    for title, lines in ratios.items():
        print(f" {title}:")
        print("\n".join(lines))


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
    parser.add_argument("--quick", action="store_true", help="1 s runs, once, one worker")
    parser.add_argument("--seconds", type=int, default=3, help="length of one wrk run")
    parser.add_argument("--repeat", type=int, default=3, help="wrk runs per figure (the median is shown)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--idle", type=float, default=5.0, help="seconds of idle CPU measured")
    parser.add_argument("--no-server", action="store_true", help="only time feed generation")
    parser.add_argument(
        "--workers", type=int, action="append", help="worker processes of each server (repeatable)"
    )
    args = parser.parse_args()
    args.workers = args.workers or ((1,) if args.quick else (1, 2))
    if args.quick:
        args.seconds, args.repeat, args.idle = 1, 1, 2.0
    if not args.no_server:
        serve_benchmark(args)
    generation_benchmark()


if __name__ == "__main__":
    main()
