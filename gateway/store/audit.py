"""The audit chain: how an entry is hashed.

Each entry's hash covers its own fields and the previous entry's hash, so removing,
reordering or editing any entry breaks every hash after it; `gateway audit verify` recomputes
the chain and names the first entry that does not match. The database also refuses UPDATE,
DELETE and TRUNCATE on the table, so breaking the chain takes deliberate work by someone
with owner rights, and is then detected.

The hashed form is a JSON array with sorted keys and no spaces: stable across PostgreSQL's
jsonb normalisation (which reorders keys) because the detail is re-serialised the same way
when verifying. Times are hashed as integer microseconds, PostgreSQL's own precision.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.store.records import AuditEntry

GENESIS = bytes(32)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def entry_hash(prev_hash: bytes, seq: int, at: datetime, entry: AuditEntry) -> bytes:
    """SHA-256 over the previous hash and the entry's canonical form."""
    micros = (at - _EPOCH) // timedelta(microseconds=1)
    canonical = json.dumps(
        [seq, micros, entry.actor, entry.action, entry.subject, entry.detail],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(prev_hash + canonical.encode()).digest()


def canonical_detail(detail: dict[str, Any]) -> str:
    """The JSON text stored in the detail column."""
    return json.dumps(detail, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
