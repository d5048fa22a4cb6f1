"""Reading the audit section: when audit checkpoints go to the peers (docs/PROTOCOL.md
section 16).

Split from loader.py, which reads the rest of the file with the same walker.
"""

from __future__ import annotations

from datetime import timedelta

from gateway.config.converters import duration, integer_in
from gateway.config.schema import DEFAULT_AUDIT, AuditConfig, CheckpointsConfig
from gateway.config.values import format_duration
from gateway.config.walker import Value

# A checkpoint carries every hash it covers: the protocol's bound on one checkpoint.
MAX_AFTER_ENTRIES = 4096
# Below a minute checkpoints would be most of the traffic (and of the audit log).
_SHORTEST_EVERY = timedelta(minutes=1)


def read_audit(value: Value) -> AuditConfig:
    r = value.mapping()
    checkpoints = r.optional("checkpoints", _read_checkpoints, DEFAULT_AUDIT.checkpoints)
    r.finish()
    return AuditConfig(checkpoints=checkpoints)


def _read_checkpoints(value: Value) -> CheckpointsConfig:
    r = value.mapping()
    defaults = DEFAULT_AUDIT.checkpoints
    checkpoints = CheckpointsConfig(
        every=r.optional("every", duration, defaults.every),
        after_entries=r.optional(
            "after_entries",
            integer_in(1, MAX_AFTER_ENTRIES, "a number of entries"),
            defaults.after_entries,
        ),
    )
    if r.ok("every") and checkpoints.every < _SHORTEST_EVERY:
        r.report("every", f"expected at least 1m, got {format_duration(checkpoints.every)}")
    r.finish()
    return checkpoints
