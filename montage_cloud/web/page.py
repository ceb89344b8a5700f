"""Serve the join page and its two assets, with headers that keep it to itself.

Files are read once from the package (`static/`), so an installed wheel
serves exactly what it carries. The page may talk only to its own origin
(its WebSocket) and may use the screen, the camera and the microphone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib import resources

from aiohttp import web

logger = logging.getLogger(__name__)

JOIN_PATH = "/join"
ASSETS = {
    "join.js": "text/javascript",
    "join.css": "text/css",
}
_HEADERS = {
    # 'self' covers the page's own wss:// origin in current browsers.
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
        " connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "Permissions-Policy": "display-capture=(self), camera=(self), microphone=(self)",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    # Small files; a new release must show at once.
    "Cache-Control": "no-cache",
}


@dataclass(frozen=True)
class PageFiles:
    html: bytes
    assets: dict[str, bytes]

    @classmethod
    def load(cls) -> PageFiles:
        static = resources.files("montage_cloud.web") / "static"
        return cls(
            html=(static / "join.html").read_bytes(),
            assets={name: (static / name).read_bytes() for name in ASSETS},
        )


def add_page_routes(app: web.Application) -> None:
    files = PageFiles.load()

    async def page(request: web.Request) -> web.Response:
        return web.Response(
            body=files.html, content_type="text/html", charset="utf-8", headers=_HEADERS
        )

    async def asset(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in ASSETS:
            raise web.HTTPNotFound()
        return web.Response(
            body=files.assets[name], content_type=ASSETS[name], charset="utf-8", headers=_HEADERS
        )

    app.add_routes(
        [
            web.get(JOIN_PATH, page, allow_head=False),
            web.get(JOIN_PATH + "/{name}", asset, allow_head=False),
        ]
    )
