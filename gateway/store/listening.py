"""LISTEN on a dedicated connection that outlives the connection.

A LISTEN belongs to one server session. When that session ends (PostgreSQL restarted, the
session killed with pg_terminate_backend, a network cut), nothing tells the workers: they
are never woken again and fall back on their idle poll, so every message from then on waits
up to that long, until the process restarts. Here a lost connection is replaced as soon as
the database takes connections again, retrying every RECONNECT_PAUSE. Notifications sent
while no session listened are gone; the workers' idle poll covers that window only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import asyncpg

from gateway.ops.logs import fields

log = logging.getLogger(__name__)

RECONNECT_PAUSE = 1.0


class Listener:
    """Calls handlers[channel](payload) for each notification, until stop()."""

    def __init__(self, dsn: str, handlers: dict[str, Callable[[str], None]]) -> None:
        self._dsn = dsn
        self._handlers = handlers
        self._connection: asyncpg.Connection | None = None
        self._reconnecting: asyncio.Task[None] | None = None
        self._stopped = False

    async def start(self) -> None:
        """Connect and listen; raises if the database cannot be reached now."""
        self._connection = await self._listen()

    async def stop(self) -> None:
        self._stopped = True
        if self._reconnecting is not None:
            self._reconnecting.cancel()
            await asyncio.gather(self._reconnecting, return_exceptions=True)
        if self._connection is not None:
            await self._connection.close()

    async def _listen(self) -> asyncpg.Connection:
        connection: asyncpg.Connection = await asyncpg.connect(self._dsn)
        try:
            for channel in self._handlers:
                await connection.add_listener(channel, self._deliver)
        except BaseException:
            connection.terminate()
            raise
        connection.add_termination_listener(self._lost)
        return connection

    def _deliver(self, _conn: object, _pid: int, channel: str, payload: object) -> None:
        self._handlers[channel](str(payload))

    def _lost(self, _connection: object) -> None:
        if self._stopped or self._reconnecting is not None:
            return
        log.warning("listen_session_lost", extra=fields(channels=",".join(self._handlers)))
        self._reconnecting = asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        try:
            while not self._stopped:
                try:
                    self._connection = await self._listen()
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                    log.info(
                        "listen_session_still_lost",
                        extra=fields(error_type=type(error).__name__),
                    )
                    await asyncio.sleep(RECONNECT_PAUSE)
                else:
                    log.info("listen_session_back", extra=fields(channels=",".join(self._handlers)))
                    return
        finally:
            self._reconnecting = None
