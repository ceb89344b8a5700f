"""Servers behind the test proxies: the cloud's REST app and a TCP echo, on loopback.

Run inside the proxies' network namespace, so that from the test's own
namespace they can only be reached through a proxy. Prints one JSON line per
server ({"event": "echo", "port": N}, then the cloud's {"event": "ready", "url": …}
for http and https).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
from dataclasses import replace
from pathlib import Path

from montage_cloud.server import ServeOptions, serve
from montage_cloud.service import CloudConfig


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(4096):
        writer.write(data)
        await writer.drain()
    writer.close()


async def main(database: str, cert: Path, key: Path) -> None:
    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(json.dumps({"event": "echo", "port": port}), flush=True)
    plain = ServeOptions(host="127.0.0.1", port=0, database=database, config=CloudConfig())
    # The same API over TLS, as in production: REST through a proxy is then a CONNECT.
    tls = replace(plain, tls_cert=cert, tls_key=key)
    stop = asyncio.Event()  # one for both: each serve() would take SIGTERM for itself
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with server:
        await asyncio.gather(serve(plain, stop=stop), serve(tls, stop=stop))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--cert", type=Path, required=True)
    parser.add_argument("--key", type=Path, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    asyncio.run(main(args.db, args.cert, args.key))
