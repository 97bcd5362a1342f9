"""`runstrong-sync watch`: import files as they arrive in the inbox, until stopped."""

from __future__ import annotations

import signal
import threading
from types import FrameType

from runstrong_sync import render
from runstrong_sync.cli.app import App, pass_app
from runstrong_sync.cli.group import cli
from runstrong_sync.pipeline import SyncReport
from runstrong_sync.watch import targets_to_watch, watch_inbox


@cli.command()
@pass_app
def watch(app: App) -> int:
    """Watch the inbox (sources.fit.inbox) and import each file once it is complete.

    Files already there are imported first. Imported files move to the archive folder (or stay,
    with after_import = "leave"); files that cannot be imported move to rejected/ beside a
    .reason.txt. Then the runs are labelled, the plan updated and the feed written, as by `sync`.
    Ctrl-C or SIGTERM stops it (exit status 0) once the file in hand is done.
    """
    stop = threading.Event()
    folders = ", ".join(str(target.folder) for target in targets_to_watch(app.config))

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        app.errors.print(
            f"{signal.Signals(signum).name} received: stopping once the file in hand is done.",
            highlight=False,
        )
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    app.errors.print(f"Watching {folders} (Ctrl-C stops).", highlight=False)

    def show(report: SyncReport) -> None:
        render.print_rejections(app.errors, report.rejected)
        for source in report.sources:
            if source.created or source.updated or source.rejected:
                app.console.print(source.summary(), highlight=False)

    try:
        watch_inbox(app.config, app.db, stop, now=lambda: app.now(), on_report=show)
    except KeyboardInterrupt:
        stop.set()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    app.errors.print("Stopped.", highlight=False)
    return 0
