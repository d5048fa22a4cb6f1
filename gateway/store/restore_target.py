"""The database a restore writes into: is it empty, is it in use, and emptying it (--force).

Only gateway/store speaks SQL, so gateway/ops/backup.py asks here. Emptying drops the public
schema with everything in it (the audit log's append-only trigger guards rows, not the
schema) and makes it anew, in one transaction: a restore then starts from what a new
database looks like.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from gateway.store.queries import Q


@dataclass(frozen=True)
class RestoreTarget:
    tables: int
    # Other sessions on the database: a node (or a console, a CLI command) still using it.
    sessions: int


async def restore_target(dsn: str) -> RestoreTarget:
    connection = await asyncpg.connect(dsn)
    try:
        row = await connection.fetchrow(Q.restore_target_state)
    finally:
        await connection.close()
    assert row is not None
    return RestoreTarget(tables=row["tables"], sessions=row["sessions"])


async def empty_restore_target(dsn: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        async with connection.transaction():
            await connection.execute(Q.restore_target_empty)
            await connection.execute(Q.restore_target_schema)
    finally:
        await connection.close()
