"""Zip archives of activity files (Garmin Connect's data export, Strava's bulk export), opened safely.

Nothing is unpacked to disk except a Garmin export's inner zips (into a private temporary folder,
within the same limits). Every entry is checked from the central directory before any byte is
inflated: names that escape (absolute, `..`), links, absurd sizes and compression ratios are
refused with a reason; the sizes declared there bound what is read, since zipfile stops at the
declared size and then fails the CRC check.
"""

from __future__ import annotations

import csv
import io
import stat
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from runstrong_sync.errors import ArchiveRejectedError, FitReadError

from .formats import MAX_FILE_BYTES, ExportHints, format_of

STRAVA_INDEX = "activities.csv"
READ_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class ArchiveLimits:
    max_entry_bytes: int = MAX_FILE_BYTES
    max_total_bytes: int = 16 * 1024**3  # ten years of exports stay well below this
    max_ratio: float = 200.0  # FIT packs about 3:1, GPX/TCX up to about 30:1
    max_entries: int = 200_000
    max_depth: int = 1  # a Garmin export holds zips of uploaded files; deeper is refused


@dataclass(frozen=True, slots=True)
class ArchiveMember:
    """One activity file inside an archive: ``zip_path`` may be a temporary inner zip."""

    zip_path: Path
    member: str
    ref: str  # how people see it: outer.zip!inner.zip!activities/123.fit.gz
    hints: ExportHints | None = None


@dataclass
class ArchivePlan:
    members: list[ArchiveMember] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)  # ref, reason
    skipped: int = 0  # entries that are not activity files (JSON, CSV, media...)


def plan_archive(path: Path, temp_dir: Path, limits: ArchiveLimits = ArchiveLimits()) -> ArchivePlan:
    """List the activity files in ``path`` without inflating any; ArchiveRejectedError refuses it all."""
    plan = ArchivePlan()
    budget = [limits.max_total_bytes]
    _plan(path, str(path), temp_dir, limits, 0, plan, budget)
    return plan


def _open(path: Path, ref: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise ArchiveRejectedError(f"{ref}: this is not a readable zip archive ({exc})") from exc
    except OSError as exc:
        raise ArchiveRejectedError(f"{ref}: the archive cannot be read ({exc.strerror or exc})") from exc


def _plan(
    path: Path,
    ref: str,
    temp_dir: Path,
    limits: ArchiveLimits,
    depth: int,
    plan: ArchivePlan,
    budget: list[int],
) -> None:
    with _open(path, ref) as archive:
        infos = archive.infolist()
        if len(infos) > limits.max_entries:
            raise ArchiveRejectedError(
                f"{ref}: the archive holds {len(infos)} entries, more than {limits.max_entries}"
            )
        declared = sum(i.file_size for i in infos)
        if declared > budget[0]:
            raise ArchiveRejectedError(
                f"{ref}: the archive unpacks to {declared // 1_048_576} MiB, more than the "
                f"{limits.max_total_bytes // 1_048_576} MiB allowed; is it a zip bomb?"
            )
        budget[0] -= declared
        hints = _strava_index(archive, infos, limits)
        for info in infos:
            if info.is_dir():
                continue
            entry_ref = f"{ref}!{info.filename}"
            kind = format_of(info.filename)
            if kind is None:
                plan.skipped += 1
                continue
            # An inner zip (Garmin's uploaded files) may be large: it is streamed to a temporary file.
            reason = entry_problem(info, limits, limits.max_total_bytes if kind == "zip" else None)
            if reason is None and kind == "zip" and depth >= limits.max_depth:
                reason = "an archive inside an archive inside an archive is not opened; unpack it first"
            if reason is not None:
                plan.rejected.append((entry_ref, reason))
                continue
            if kind == "zip":
                inner = temp_dir / f"inner-{len(list(temp_dir.iterdir()))}.zip"
                try:
                    _extract(archive, info, inner)
                    _plan(inner, entry_ref, temp_dir, limits, depth + 1, plan, budget)
                except FitReadError as exc:
                    plan.rejected.append((entry_ref, str(exc).removeprefix(f"{entry_ref}: ")))
                continue
            plan.members.append(ArchiveMember(path, info.filename, entry_ref, hints.get(info.filename)))


def entry_problem(info: zipfile.ZipInfo, limits: ArchiveLimits, max_bytes: int | None = None) -> str | None:
    """Why this entry must not be read, or None; ``max_bytes`` overrides the activity-file limit."""
    name = info.filename
    pure = PurePosixPath(name.replace("\\", "/"))
    if pure.is_absolute() or (len(name) > 1 and name[1] == ":"):
        return "the entry has an absolute path; refused so nothing is written outside its folder"
    if ".." in pure.parts:
        return "the entry's path contains '..'; refused so nothing is written outside its folder"
    mode = info.external_attr >> 16
    if mode and stat.S_ISLNK(mode):
        return "the entry is a symbolic link; links are not followed"
    if info.flag_bits & 0x1:
        return "the entry is encrypted; export it again without a password"
    if max_bytes is not None and info.file_size > max_bytes:
        return f"the entry unpacks to {info.file_size // 1_048_576} MiB, more than the archive limit"
    if max_bytes is None and info.file_size > limits.max_entry_bytes:
        return f"the entry unpacks to {info.file_size // 1_048_576} MiB, larger than any activity file"
    if info.file_size > 0 and info.file_size / max(info.compress_size, 1) > limits.max_ratio:
        return (
            f"the entry is compressed {info.file_size / max(info.compress_size, 1):.0f}:1, "
            f"beyond the {limits.max_ratio:.0f}:1 any activity file reaches; is it a zip bomb?"
        )
    return None


def read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: ArchiveLimits) -> bytes:
    """The entry's bytes, never more than its declared size (zipfile checks the CRC at the end)."""
    problem = entry_problem(info, limits)
    if problem is not None:
        raise FitReadError(problem)
    out = bytearray()
    try:
        with archive.open(info) as handle:
            while chunk := handle.read(READ_CHUNK):
                out += chunk
                if len(out) > min(info.file_size, limits.max_entry_bytes):
                    raise FitReadError("the entry unpacks to more than its declared size; refused")
    except (zipfile.BadZipFile, EOFError, OSError, RuntimeError, NotImplementedError) as exc:
        raise FitReadError(f"the archive entry is damaged ({exc})") from exc
    except Exception as exc:  # zlib/bz2/lzma errors differ by method
        raise FitReadError(f"the archive entry cannot be unpacked ({type(exc).__name__}: {exc})") from exc
    return bytes(out)


def _extract(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path) -> None:
    """Stream an entry to ``target``; zipfile stops at the declared size and checks the CRC."""
    try:
        with archive.open(info) as source, target.open("wb") as sink:
            while chunk := source.read(READ_CHUNK):
                sink.write(chunk)
    except (zipfile.BadZipFile, EOFError, RuntimeError, NotImplementedError) as exc:
        raise FitReadError(f"the archive entry is damaged ({exc})") from exc
    except OSError as exc:
        raise FitReadError(f"the archive entry cannot be unpacked ({exc.strerror or exc})") from exc
    except Exception as exc:  # zlib/bz2/lzma errors differ by method
        raise FitReadError(f"the archive entry cannot be unpacked ({type(exc).__name__}: {exc})") from exc


def _strava_index(
    archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo], limits: ArchiveLimits
) -> dict[str, ExportHints]:
    """Strava's activities.csv: Filename -> name, type and id of the activity it describes."""
    index = next(
        (i for i in infos if PurePosixPath(i.filename).name == STRAVA_INDEX and i.filename.count("/") <= 1),
        None,
    )
    if index is None or entry_problem(index, limits) is not None:
        return {}
    prefix = index.filename[: -len(STRAVA_INDEX)]
    try:
        text = read_member(archive, index, limits).decode("utf-8-sig", errors="replace")
    except FitReadError:
        return {}
    hints: dict[str, ExportHints] = {}
    for row in _rows(text):
        filename = (row.get("Filename") or "").strip()
        if not filename:
            continue
        hints[prefix + filename] = ExportHints(
            name=(row.get("Activity Name") or "").strip() or None,
            sport=(row.get("Activity Type") or "").strip() or None,
            export_id=(row.get("Activity ID") or "").strip() or None,
        )
    return hints


def _rows(text: str) -> Iterator[dict[str, str]]:
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        return
    # Strava's file repeats some column names (e.g. "Elapsed Time"); the first occurrence counts.
    for values in reader:
        row: dict[str, str] = {}
        for key, value in zip(header, values, strict=False):
            row.setdefault(key.strip(), value)
        yield row
