"""The feed server under abuse: does a calendar's normal poll still get its answer quickly, and
does the server's memory stay bounded?

    python bench/server_abuse.py [--quick] [--seconds 12]

Starts `runstrong-sync serve` (one worker, the limits of [server] at their defaults, Strava's
webhook route on) on a one-year feed in a temporary folder, and measures a normal poll (a new
connection, GET with If-None-Match, answered 304) every 0.2 s and the server's resident memory
(all its processes, from /proc): first idle, then during each abuse in turn, every one on
127.0.0.1 and bounded in time and count:

- 500 connections, each sending full GETs back to back;
- 100 slow clients, each sending its request head one byte a second;
- 50 clients sending requests with a 64 KB header, over and over;
- 10 clients posting 10 MB bodies to /strava/webhook (declared length), over and over;
- 10 clients posting 10 MB chunked bodies (no declared length) to /strava/webhook.

Prints, per abuse, the poll's median and worst latency, the failed polls, and the peak memory,
each as a ratio to the idle figures measured in the same run (goal: polls under 1 s, memory
bounded).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from feed_server import etag_of, free_port, make_install, stop, wait_for

Abuse = Callable[[str, int, str, float], Awaitable[None]]


def rss_bytes(pid: int) -> int:
    """Resident memory of a process and its children (granian's workers)."""
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    total = 0
    for each in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
    return total


def poll(port: int, path: str, etag: str) -> float | None:
    """One normal poll on a new connection: its latency in seconds, or None when it failed."""
    started = time.perf_counter()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        connection.request("GET", path, headers={"If-None-Match": etag})
        response = connection.getresponse()
        response.read()
        connection.close()
    except OSError:
        return None
    if response.status not in (200, 304):
        return None
    return time.perf_counter() - started


def observe(pid: int, port: int, path: str, etag: str, seconds: float) -> tuple[list[float], int, int]:
    latencies: list[float] = []
    failed = 0
    peak = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        took = poll(port, path, etag)
        if took is None:
            failed += 1
        else:
            latencies.append(took)
        peak = max(peak, rss_bytes(pid))
        time.sleep(0.2)
    return latencies, failed, peak


async def _drain(reader: asyncio.StreamReader) -> None:
    with contextlib.suppress(Exception):
        while await reader.read(65536):
            pass


async def many_connections(host: str, port: int, path: str, seconds: float) -> None:
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()

    async def client() -> None:
        deadline = time.monotonic() + seconds
        with contextlib.suppress(Exception):
            reader, writer = await asyncio.open_connection(host, port)
            while time.monotonic() < deadline:
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
            writer.close()

    await asyncio.gather(*(client() for _ in range(500)))


async def slow_clients(host: str, port: int, path: str, seconds: float) -> None:
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nX-Slow: {'a' * 200}\r\n\r\n".encode()

    async def client() -> None:
        deadline = time.monotonic() + seconds
        with contextlib.suppress(Exception):
            while time.monotonic() < deadline:  # reconnect when the server drops us
                reader, writer = await asyncio.open_connection(host, port)
                for byte in request:
                    if time.monotonic() >= deadline or reader.at_eof():
                        break
                    writer.write(bytes([byte]))
                    await writer.drain()
                    await asyncio.sleep(1.0)
                writer.close()

    await asyncio.gather(*(client() for _ in range(100)))


async def big_headers(host: str, port: int, path: str, seconds: float) -> None:
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nX-Big: {'a' * 65536}\r\n\r\n".encode()

    async def client() -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                reader, writer = await asyncio.open_connection(host, port)
                writer.write(request)
                await writer.drain()
                await asyncio.wait_for(_drain(reader), 5)
                writer.close()
            await asyncio.sleep(0.01)

    await asyncio.gather(*(client() for _ in range(50)))


async def _post_body(host: str, port: int, seconds: float, chunked: bool) -> None:
    chunk = b"x" * 65536
    total = 10 * 1024 * 1024
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}"
    head = (
        f"POST /strava/webhook HTTP/1.1\r\nHost: {host}\r\n"
        f"Content-Type: application/json\r\n{framing}\r\n\r\n"
    ).encode()

    async def client() -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                reader, writer = await asyncio.open_connection(host, port)
                writer.write(head)
                for _ in range(total // len(chunk)):
                    if reader.at_eof() or time.monotonic() >= deadline:
                        break
                    writer.write(b"10000\r\n" + chunk + b"\r\n" if chunked else chunk)
                    await writer.drain()
                writer.close()
            await asyncio.sleep(0.01)

    await asyncio.gather(*(client() for _ in range(10)))


async def large_bodies(host: str, port: int, path: str, seconds: float) -> None:
    await _post_body(host, port, seconds, chunked=False)


async def chunked_bodies(host: str, port: int, path: str, seconds: float) -> None:
    await _post_body(host, port, seconds, chunked=True)


ABUSES: dict[str, Abuse] = {
    "500 connections of full GETs": many_connections,
    "100 slow clients, 1 byte/s": slow_clients,
    "50 clients, 64 KB headers": big_headers,
    "10 clients, 10 MB webhook bodies": large_bodies,
    "10 clients, 10 MB chunked bodies": chunked_bodies,
}


def run_abuse(abuse: Abuse, port: int, path: str, seconds: float) -> threading.Thread:
    thread = threading.Thread(
        target=lambda: asyncio.run(abuse("127.0.0.1", port, path, seconds)), name="abuse", daemon=True
    )
    thread.start()
    return thread


def report(name: str, figures: tuple[list[float], int, int], idle: tuple[float, int]) -> None:
    latencies, failed, peak = figures
    idle_latency, idle_rss = idle
    median = statistics.median(latencies) if latencies else float("nan")
    worst = max(latencies) if latencies else float("nan")
    print(
        f"  {name:<34} {median * 1000:8.1f} ms ({median / idle_latency:6.1f}x) "
        f"worst {worst * 1000:7.1f} ms  failed {failed:>2}/{len(latencies) + failed:<3} "
        f"RSS {peak / 1e6:6.1f} MB ({peak / idle_rss:4.2f}x)  {'ok' if worst < 1 and not failed else 'NO'}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="4 s per abuse instead of 12")
    parser.add_argument("--seconds", type=float, default=None)
    args = parser.parse_args()
    seconds = args.seconds or (4.0 if args.quick else 12.0)
    with tempfile.TemporaryDirectory(prefix="runstrong-abuse-") as name:
        folder = Path(name)
        config_path, _, token = make_install(folder, 1)
        with config_path.open("a", encoding="utf-8") as config:
            config.write(
                '[sources.strava]\nenabled = true\nclient_id = "1"\nclient_secret = "bench"\n'
                'webhook_verify_token = "bench"\n'
            )
        port = free_port()
        path = f"/feed/{token}/strength.ics"
        environ = {**os.environ, "RUNSTRONG_CONFIG": str(config_path)}
        with (folder / "serve.log").open("w") as log:
            command = [
                sys.executable,
                "-m",
                "runstrong_sync",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ]
            server = subprocess.Popen(command, env=environ, stdout=subprocess.DEVNULL, stderr=log)
            try:
                wait_for(f"http://127.0.0.1:{port}{path}")
                etag = etag_of(f"http://127.0.0.1:{port}{path}")
                latencies, _, peak = observe(server.pid, port, path, etag, min(seconds, 4.0))
                idle = (statistics.median(latencies), peak)
                print(f"{seconds:.0f} s per abuse; a normal poll every 0.2 s on a new connection")
                print(f"  {'idle':<34} {idle[0] * 1000:8.1f} ms           RSS {peak / 1e6:6.1f} MB")
                for name_, abuse in ABUSES.items():
                    thread = run_abuse(abuse, port, path, seconds)
                    time.sleep(0.5)  # let the abuse build up
                    report(name_, observe(server.pid, port, path, etag, seconds - 1), idle)
                    thread.join(seconds + 10)
                    time.sleep(0.5)
                after = rss_bytes(server.pid)
                print(f"  {'after all of them':<34} RSS {after / 1e6:6.1f} MB ({after / idle[1]:4.2f}x idle)")
            finally:
                stop(server)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
