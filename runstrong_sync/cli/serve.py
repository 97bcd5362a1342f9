"""`runstrong-sync serve` and `runstrong-sync feed rotate-token`."""

from __future__ import annotations

import sys

import click

from runstrong_sync import publishing
from runstrong_sync.cli.app import App, pass_app
from runstrong_sync.cli.core import feed
from runstrong_sync.cli.edit import confirm
from runstrong_sync.cli.group import cli
from runstrong_sync.storage import repo


def _base_url(app: App, host: str, port: int) -> str:
    public = app.config.server.public_url
    if public:
        return public
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def _print_urls(app: App, token: str, base_url: str) -> None:
    from runstrong_sync.server import feed_urls

    names = list(publishing.feed_files(app.config))
    for name, urls in feed_urls(base_url, token, names).items():
        app.console.print(f"{name}:", highlight=False)
        app.console.print(f"  {urls['http']}", highlight=False, soft_wrap=True)
        app.console.print(f"  {urls['webcal']}", highlight=False, soft_wrap=True)
    if not base_url.startswith("https://"):
        app.console.print(
            "Set server.public_url to the https:// address of your reverse proxy before sharing "
            "these links: without TLS the token travels in clear text.",
            highlight=False,
        )


@cli.command()
@click.option("--host", help="Address to listen on (default: server.host, 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default: server.port, 8765).")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True, help="Worker processes.")
@click.option(
    "--no-urls", "hide_urls", is_flag=True, help="Do not print the feed URLs (output kept in a log)."
)
@pass_app
def serve(app: App, host: str | None, port: int | None, workers: int, hide_urls: bool) -> int:
    """Serve the calendar feeds over HTTP and print the URLs to subscribe with.

    Each feed sits under a secret token: share the URL only with your calendar app, and run
    `runstrong-sync feed rotate-token` if it leaks. Put a TLS reverse proxy in front (README).
    """
    from runstrong_sync.server.run import Limits, check_port_free, run

    host = host or app.config.server.host
    port = port or app.config.server.port
    check_port_free(host, port)  # before anything is printed
    now = app.now()
    athlete = app.athlete()
    if not app.config.feed_path.exists():
        publishing.publish(app.db, athlete, app.config, now)
    with app.db.transaction() as session:
        token = repo.feed_token(session, athlete)
    app.console.print(f"Serving the calendar feeds on http://{host}:{port}/ (Ctrl-C stops).", highlight=False)
    if not hide_urls:
        base = _base_url(app, host, port)
        _print_urls(app, token, base)
        app.console.print(f"week page:\n  {base.rstrip('/')}/feed/{token}/", highlight=False, soft_wrap=True)
    sys.stdout.flush()  # the URLs must show before the server blocks, also when piped
    app.db.dispose()  # the workers open their own connections
    run(host, port, workers=workers, config_path=app.config.source_path, limits=Limits.of(app.config.server))
    return 0


@feed.command("rotate-token")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_app
def rotate_token(app: App, yes: bool) -> int:
    """Replace the secret in the feed URLs (the old URLs answer 404 from now on).

    Every calendar subscribed with the old URLs stops updating until it is subscribed again."""
    if not yes:
        confirm("Replace the feed URLs? Every calendar subscribed to the old ones must subscribe again.")
    athlete = app.athlete()
    with app.db.transaction() as session:
        token = repo.rotate_feed_token(session, athlete)
    app.console.print(
        "New feed URLs (a running server picks them up within seconds; re-subscribe your calendars):",
        highlight=False,
    )
    server = app.config.server
    _print_urls(app, token, _base_url(app, server.host, server.port))
    return 0
