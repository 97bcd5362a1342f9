"""Render the week page (server-side HTML, no JavaScript needed) and the routes that serve it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, urlsplit, urlunsplit

import segno
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from runstrong_sync.core.weekview import WeekLoad, WeekView

_ENV = Environment(
    loader=PackageLoader("runstrong_sync.web", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
CHART_WIDTH, CHART_HEIGHT, CHART_BAR = 320, 140, 44


@dataclass(frozen=True, slots=True)
class SubscribeLinks:
    https: str
    webcal: str
    google: str
    qr_svg: str


def subscribe_links(feed_url: str) -> SubscribeLinks:
    parts = urlsplit(feed_url)
    webcal = urlunsplit(("webcal", parts.netloc, parts.path, parts.query, ""))
    google = "https://calendar.google.com/calendar/render?cid=" + quote(webcal, safe="")
    qr = segno.make(feed_url, error="m").svg_inline(scale=3, dark="#111111", light="#ffffff")
    return SubscribeLinks(https=feed_url, webcal=webcal, google=google, qr_svg=qr)


@dataclass(frozen=True, slots=True)
class Bar:
    x: int
    label: str
    segments: tuple[tuple[str, int, int, int], ...]  # css class, y, height, minutes
    total: int


def chart_bars(load: tuple[WeekLoad, ...]) -> tuple[Bar, ...]:
    """Stacked bars of easy, long and hard minutes per week, scaled to the busiest week."""
    peak = max((w.running_min for w in load), default=0) or 1
    usable = CHART_HEIGHT - 30
    bars = []
    for i, week in enumerate(load):
        y = CHART_HEIGHT - 20
        segments = []
        for css, minutes in (("easy", week.easy_min), ("long", week.long_min), ("hard", week.hard_min)):
            height = round(usable * minutes / peak)
            y -= height
            segments.append((css, y, height, minutes))
        bars.append(
            Bar(
                x=20 + i * (CHART_BAR + 30),
                label=week.monday.strftime("%d %b"),
                segments=tuple(segments),
                total=week.running_min,
            )
        )
    return tuple(bars)


def render_week_page(view: WeekView, feed_url: str, generated: datetime) -> str:
    template = _ENV.get_template("week.html")
    return template.render(
        view=view,
        links=subscribe_links(feed_url),
        bars=chart_bars(view.load),
        chart=(CHART_WIDTH, CHART_HEIGHT, CHART_BAR),
        generated=generated,
    )


def page_routes(
    resolve: Callable[[str, str], tuple[WeekView, str] | None],
    clock: Callable[[], datetime],
) -> list[Route]:
    """Routes for the page at /feed/{token}/. ``resolve`` maps a token and the request's base URL
    to (view, feed URL), or None for a wrong token, which gets the same bare 404 as any unknown path."""

    async def week_page(request: Request) -> Response:
        found = resolve(request.path_params["token"], str(request.base_url))
        if found is None:
            return Response("Not Found", status_code=404, media_type="text/plain")
        view, feed_url = found
        html = render_week_page(view, feed_url, clock())
        headers = {
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "X-Robots-Tag": "noindex",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
        }
        return HTMLResponse(html, headers=headers)

    return [Route("/feed/{token}/", week_page, methods=["GET", "HEAD"])]
