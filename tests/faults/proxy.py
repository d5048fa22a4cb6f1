"""A faulty TCP proxy on 127.0.0.1, between a sender node and its peer.

It relays bytes and knows nothing of TLS or HTTP: the TLS session runs end to end between
the two gateways, so what the proxy damages is what a broken network or a broken peer would
damage. The mode is read for every chunk, not once per connection, because the sender keeps
its connections alive: a fault switched on mid-run must hit connections already open.

- pass: relay unchanged.
- slow: relay in small pieces with a pause between them (a trickling link or peer).
- reset_request: half-way through a batch, abort both sides (RST): the peer sees a torn
  request.
- reset_response: relay a batch, abort both sides when the answer starts: the peer has
  stored the batch and signed its receipts, the sender never sees them and must resend.
- garbage: answer the sender's bytes with bytes that are neither TLS nor HTTP, then close.
- truncate: relay a batch, pass on only the first part of the answer, then close.

"Batch" means past the first HANDSHAKE_BYTES the sender wrote on a connection: the TLS
handshake is far smaller than a batch, and the faults that matter come after it.

Every chunk the proxy damaged is counted in `faults`, so a test can wait for the fault to
have happened, instead of sleeping and hoping.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections import Counter
from dataclasses import dataclass
from enum import Enum


class Mode(Enum):
    PASS = "pass"
    SLOW = "slow"
    RESET_REQUEST = "reset_request"
    RESET_RESPONSE = "reset_response"
    GARBAGE = "garbage"
    TRUNCATE = "truncate"


# Random-looking bytes with no TLS record header (0x14..0x18) at the front and no HTTP in them.
GARBAGE = bytes((i * 73 + 41) % 256 for i in range(512)).replace(b"\x16", b"\x00")
TRICKLE_BYTES = 1024
TRICKLE_PAUSE = 0.005
READ_SIZE = 65536
HANDSHAKE_BYTES = 4096


def _abort(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP reset, not a FIN: SO_LINGER with a zero timeout."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


@dataclass
class _Link:
    """One relayed connection: both ends, and how much the sender has written so far."""

    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter
    request_bytes: int = 0

    @property
    def in_request(self) -> bool:
        """Past the TLS handshake and into a batch: the handshake is far smaller than this."""
        return self.request_bytes > HANDSHAKE_BYTES

    def abort(self) -> None:
        _abort(self.client)
        _abort(self.upstream)


class FaultyProxy:
    """Listens on 127.0.0.1:port and relays to 127.0.0.1:upstream_port."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.mode = Mode.PASS
        self.faults: Counter[Mode] = Counter()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def wait_faults(self, mode: Mode, count: int, timeout: float = 30) -> None:
        """Until the proxy has damaged count chunks in mode (bounded)."""
        async with asyncio.timeout(timeout):
            while self.faults[mode] < count:
                await asyncio.sleep(0.05)

    async def _accept(
        self, client_reader: asyncio.StreamReader, client: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            upstream_reader, upstream = await asyncio.open_connection(
                "127.0.0.1", self.upstream_port
            )
        except OSError:
            _abort(client)
            self._tasks.discard(task)
            return
        link = _Link(client, upstream)
        try:
            await asyncio.gather(
                self._relay(link, client_reader, upstream, request=True),
                self._relay(link, upstream_reader, client, request=False),
            )
        except OSError:
            pass
        finally:
            link.client.transport.abort()
            link.upstream.transport.abort()
            self._tasks.discard(task)

    async def _relay(
        self,
        link: _Link,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        request: bool,
    ) -> None:
        while chunk := await reader.read(READ_SIZE):
            if request:
                link.request_bytes += len(chunk)
            mode = self.mode
            if mode is Mode.SLOW:
                self.faults[mode] += 1
                for start in range(0, len(chunk), TRICKLE_BYTES):
                    await asyncio.sleep(TRICKLE_PAUSE)
                    writer.write(chunk[start : start + TRICKLE_BYTES])
                    await writer.drain()
                continue
            if mode is Mode.GARBAGE and request:
                self.faults[mode] += 1
                link.client.write(GARBAGE)
                await link.client.drain()
                link.client.close()
                link.upstream.transport.abort()
                return
            if link.in_request and (
                (mode is Mode.RESET_REQUEST and request)
                or (mode is Mode.RESET_RESPONSE and not request)
            ):
                self.faults[mode] += 1
                if request:  # part of the body gets through: the peer sees a torn request
                    writer.write(chunk[: len(chunk) // 2])
                    await writer.drain()
                link.abort()
                return
            if mode is Mode.TRUNCATE and link.in_request and not request:
                self.faults[mode] += 1
                writer.write(chunk[: max(1, len(chunk) // 3)])
                await writer.drain()
                link.client.close()
                link.upstream.transport.abort()
                return
            writer.write(chunk)
            await writer.drain()
        if writer.can_write_eof():
            with contextlib.suppress(OSError):
                writer.write_eof()
