"""A node's database: the configured DSN, or the embedded PostgreSQL in its state folder.

Kept apart from gateway.app so that operator commands (`gateway status` above all) open the
database without importing the whole node: they answer in a fraction of a second.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.config import NodeConfig
from gateway.store import EmbeddedPostgres, Store, start_embedded

DATABASE_NAME = "gateway"


@dataclass
class NodeDatabase:
    """The store of a node, and the embedded server behind it if we started one."""

    store: Store
    embedded: EmbeddedPostgres | None

    async def close(self) -> None:
        await self.store.close()


async def open_database(config: NodeConfig) -> NodeDatabase:
    """Connect to the configured database (starting the embedded one if none) and migrate."""
    embedded: EmbeddedPostgres | None = None
    dsn = config.database.dsn
    if dsn is None:
        embedded = await start_embedded(config.state_dir / "postgres")
        dsn = await embedded.ensure_database(DATABASE_NAME)
    store = await Store.connect(dsn)
    try:
        await store.migrate()
    except BaseException:
        await store.close()
        raise
    return NodeDatabase(store, embedded)
