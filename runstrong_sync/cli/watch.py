"""`runstrong-sync watch`: import files as they arrive in the inbox, until stopped."""

from __future__ import annotations

import threading

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
    Ctrl-C stops.
    """
    stop = threading.Event()
    folders = ", ".join(str(target.folder) for target in targets_to_watch(app.config))
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
        app.errors.print("Stopped.", highlight=False)
    return 0
