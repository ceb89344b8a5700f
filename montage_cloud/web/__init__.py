"""The browser client: the page at /join and the guests' WebSocket (docs/protocol.md §17).

`page.py` serves the built page from `static/` (no CDN: the page works on a
network that reaches only the cloud); `guest_socket.py` is the WebSocket a
guest's page speaks through, relayed to the receiver by the guest bridge
(`montage_cloud.guest_bridge`). `static/join.js` is built from `web/src/` by
`web/build.mjs` (esbuild, pinned in web/package-lock.json) and committed, so
the wheel carries it and the cloud needs no Node.js.
"""

from montage_cloud.web.guest_socket import GuestGateway, add_guest_routes

__all__ = ["GuestGateway", "add_guest_routes"]
