"""The folder connector: activity files from the configured inbox, or paths given to `import`."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import ClassVar

from runstrong_sync.config import Config
from runstrong_sync.errors import ConfigError
from runstrong_sync.sources import ConnectorContext, Rejected, SourceEvent, WatchTarget, prepared

from . import intake
from .files import display
from .fit_plugin import FitSettings
from .formats import format_of

NOT_ACTIVITY_FILE = (
    "not an activity file by its name (.fit, .gpx, .tcx, plain or .gz, or a .zip export); left where it is"
)


class FitFolderConnector:
    """Activity files from a folder: FIT, GPX and TCX (plain or gzipped) and zip exports."""

    name: ClassVar[str] = "fit"

    def __init__(self, config: Config) -> None:
        self.config = config
        self.settings = config.sources.get("fit", FitSettings)
        self.zone = config.athlete.zone

    def fetch(self, context: ConnectorContext) -> Iterator[SourceEvent]:
        """Every complete file in the inbox; files still being written wait for the next run."""
        inbox = self.settings.inbox
        if inbox is None:
            return
        inbox = inbox.expanduser()
        if not inbox.is_dir():
            yield Rejected(str(inbox), "the inbox folder does not exist; create it or fix sources.fit.inbox")
            return
        archive, rejected = folders(self.settings, inbox)
        busy = frozenset(Path(p) for p in context.options.get("busy", ()))
        files = [
            p
            for p in intake.inbox_files(inbox, skip=(archive, rejected))
            if intake.settled(p, self.settings.settle_seconds, busy)
        ]
        targets = intake.Targets(
            archive if self.settings.after_import == "archive" else None, rejected, confine_to=inbox
        )
        known = None
        if self.settings.after_import == "leave":  # files stay: recognise them without decoding
            from .known import KnownFiles

            known = KnownFiles(context)
            files = known.unknown(files)
        events = intake.events(
            [(p, targets) for p in files],
            context,
            self.zone,
            jobs=int(context.options.get("jobs") or intake.default_jobs()),
        )
        yield from (events if known is None else known.remember(events))

    def import_paths(self, paths: Sequence[Path], context: ConnectorContext) -> Iterator[SourceEvent]:
        """The given files, folders (searched below) and archives; nothing is archived after."""
        files: list[tuple[Path, intake.Targets]] = []
        missing: list[Rejected] = []
        for path in paths:
            if path.is_dir():
                targets = intake.Targets(None, path / "rejected", confine_to=path)
                files += [(p, targets) for p in intake.folder_files(path)]
            elif format_of(display(path.name)) is None:
                # The runner's own file, named by mistake: refused, and never moved.
                missing.append(Rejected(display(path), NOT_ACTIVITY_FILE))
            elif path.exists() or path.is_symlink():
                files.append((path, intake.Targets(None, path.parent / "rejected")))
            else:
                missing.append(Rejected(display(path), "no such file or folder"))
        yield from missing
        yield from intake.events(
            files,
            context,
            self.zone,
            jobs=int(context.options.get("jobs") or intake.default_jobs()),
            workers=prepared(context, self.name),  # started by `import` ahead (workers.prepare_import)
        )


def folders(settings: FitSettings, inbox: Path) -> tuple[Path, Path]:
    """The archive and rejected folders of ``inbox``."""
    return (
        (settings.archive_dir or inbox / "archive").expanduser(),
        (settings.rejected_dir or inbox / "rejected").expanduser(),
    )


def watch_targets(config: Config) -> list[WatchTarget]:
    """The inbox, for the watcher (the plugin's ``watch``); a missing folder is a ConfigError."""
    settings = config.sources.get("fit", FitSettings)
    if settings.inbox is None or not settings.enabled:
        return []
    inbox = settings.inbox.expanduser()
    if not inbox.is_dir():
        raise ConfigError(
            f"The inbox folder {inbox} does not exist.", ["Create it, or fix sources.fit.inbox."]
        )
    skip = folders(settings, inbox)

    def waiting(busy: frozenset[Path]) -> list[Path]:
        return [
            p
            for p in intake.inbox_files(inbox, skip=skip)
            if p not in busy and not intake.settled(p, settings.settle_seconds, frozenset())
        ]

    return [WatchTarget("fit", inbox, settings.settle_seconds, waiting)]
