"""A TCP relay that passes the server's first N bytes, then holds the rest back.

The update tests put it between an installed program and `montage-cloud dev`
so that a download is reliably halfway when the server is killed: loopback
is too fast to kill a server mid-file by timing alone. Nothing is changed
in what passes; bytes after the cut are read and dropped, and when the
server goes away the program's connection is closed, as a dead server's is.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Iterator


class CuttingRelay:
    def __init__(self, backend_port: int, cut_after: int | None) -> None:
        self.backend_port = backend_port
        self.cut_after = cut_after  # None: pass everything
        self.passed = 0
        self.cut = threading.Event()  # set when the cut point was reached
        self._loop = asyncio.new_event_loop()
        self._listening = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listening.getsockname()[1])
        self._thread = threading.Thread(target=self._serve, name="cutting-relay", daemon=True)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._relay, sock=self._listening)
        )
        self._loop.run_forever()
        server.close()
        self._loop.run_until_complete(server.wait_closed())

    async def _relay(
        self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter
    ) -> None:
        try:
            server_in, server_out = await asyncio.open_connection("127.0.0.1", self.backend_port)
        except OSError:
            client_out.close()
            return
        upstream = asyncio.ensure_future(self._pump(client_in, server_out))
        try:
            while chunk := await server_in.read(16384):
                if self.cut_after is not None:
                    room = max(0, self.cut_after - self.passed)
                    chunk = chunk[:room]
                    if not room:
                        self.cut.set()
                self.passed += len(chunk)
                if chunk:
                    client_out.write(chunk)
                    await client_out.drain()
        except OSError:
            pass
        finally:
            upstream.cancel()
            client_out.close()
            server_out.close()

    @staticmethod
    async def _pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while chunk := await source.read(16384):
                sink.write(chunk)
                await sink.drain()

    def start(self) -> CuttingRelay:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


@contextlib.contextmanager
def cutting_relay(backend_port: int, cut_after: int | None) -> Iterator[CuttingRelay]:
    relay = CuttingRelay(backend_port, cut_after).start()
    try:
        yield relay
    finally:
        relay.stop()
