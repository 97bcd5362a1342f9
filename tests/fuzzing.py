"""Seeded mutations of real FIT files, shared by the fuzz test and the fuzz benchmark."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

from runstrong_sync.connectors.fitfast import crc16

SEEDS = (
    "running_edge/Activity.fit",
    "running_edge/antfs-dump.63.fit",
    "running_edge/garmin-fenix-5-run.fit",
    "running/compressed-speed-distance.fit",
    "other_sports/swim.fit",
    "multisport/6471559601_ACTIVITY.fit",
)


def fix_crcs(data: bytearray) -> bytearray:
    """Make header and file CRC match again, so the mutation reaches the decoder proper."""
    if len(data) >= 14 and data[0] == 14:
        data[12:14] = crc16(bytes(data[:12])).to_bytes(2, "little")
    if len(data) >= 16:
        data[-2:] = crc16(bytes(data[:-2])).to_bytes(2, "little")
    return data


def mutate(original: bytes, rng: random.Random) -> bytes:
    data = bytearray(original)
    kind = rng.randrange(9)
    n = len(data)
    if kind == 0:  # flip a few bytes
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(n)] = rng.randrange(256)
    elif kind == 1:  # cut short
        del data[rng.randrange(n) :]
    elif kind == 2:  # insert noise
        at = rng.randrange(n)
        data[at:at] = rng.randbytes(rng.randint(1, 64))
    elif kind == 3:  # drop a chunk
        at = rng.randrange(n)
        del data[at : at + rng.randint(1, 256)]
    elif kind == 4:  # repeat a chunk
        at = rng.randrange(n)
        data[at:at] = data[at : at + rng.randint(1, 512)]
    elif kind == 5 and n > 12:  # lie about the data size in the header
        data[4:8] = rng.randrange(2**32).to_bytes(4, "little")
    elif kind == 6:  # zero a region
        at = rng.randrange(n)
        data[at : at + rng.randint(1, 128)] = bytes(min(n - at, 128))[: rng.randint(1, 128)]
    elif kind == 7:  # 0xFF fill: every value "invalid"
        at = rng.randrange(n)
        length = rng.randint(1, 64)
        data[at : at + length] = b"\xff" * len(data[at : at + length])
    else:  # a definition's field size or count changed
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(n)
            data[at] = (data[at] + rng.choice((1, -1, 2, 255))) % 256
    if rng.random() < 0.6:
        fix_crcs(data)
    return bytes(data)


def cases(folder: Path, count: int, seed: int = 7) -> Iterator[tuple[str, bytes]]:
    rng = random.Random(seed)
    originals = [(name, (folder / name).read_bytes()) for name in SEEDS]
    for index in range(count):
        name, data = originals[index % len(originals)]
        yield f"{index:05d}-{Path(name).stem}.fit", mutate(data, rng)


class TooSlowError(Exception):
    pass


def _alarm(signum: int, frame: object) -> None:
    raise TooSlowError


def judge(case: tuple[str, bytes, str, float]) -> tuple[str, str, str]:
    """Parse one mutated file as an import would; (name, imported|rejected|hang|crash, detail)."""
    import signal
    from zoneinfo import ZoneInfo

    from runstrong_sync.connectors.intake import WorkItem, parse_item

    name, data, folder, limit_s = case
    path = Path(folder) / name
    path.write_bytes(data)
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, limit_s)
    try:
        parsed = parse_item(WorkItem(name, path), ZoneInfo("Europe/Berlin"))
    except TooSlowError:
        return name, "hang", f"more than {limit_s} s"
    except BaseException as exc:
        return name, "crash", repr(exc)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        path.unlink()
    if parsed.reason is not None:
        return name, "rejected" if parsed.reason.strip() and not parsed.activities else "crash", parsed.reason
    ok = parsed.activities and all(a.elapsed_s >= 0 and a.start_utc.tzinfo for a in parsed.activities)
    return name, "imported" if ok else "crash", f"{len(parsed.activities)} activities"
