"""Reading the retention section: content periods per handling marking, done/ files, the
sweep interval.

Split from loader.py, which reads the rest of the file with the same walker.

`delivered_messages`, the key of earlier releases (when retention deleted whole delivered
rows), is still read, as the period of `content.normal`: a config written for them keeps
working and keeps its meaning for ordinary messages. There is no longer a lower bound tied to
the message lifetime: the inbox row that recognises a replay is kept, only its content goes.
"""

from __future__ import annotations

from datetime import timedelta

from gateway.config.converters import duration
from gateway.config.schema import DEFAULT_RETENTION, ContentRetention, RetentionConfig
from gateway.config.walker import Value

_DEFAULT_CONTENT = DEFAULT_RETENTION.content
_MARKINGS = ("normal", "restricted", "victim_protected")


def read_retention(value: Value) -> RetentionConfig:
    r = value.mapping()
    legacy = r.optional("delivered_messages", duration, None)
    content = r.optional("content", _read_content, None)
    if content is None:
        content = ContentRetention(normal=legacy or _DEFAULT_CONTENT.normal)
    elif legacy is not None and r.ok("content", "delivered_messages"):
        r.report(
            "delivered_messages",
            "expected only content.normal: delivered_messages is its former name, give one",
        )
    retention = RetentionConfig(
        content=content,
        audit_log=r.optional("audit_log", duration, DEFAULT_RETENTION.audit_log),
        done_files=r.optional("done_files", duration, DEFAULT_RETENTION.done_files),
        sweep_interval=r.optional("sweep_interval", duration, DEFAULT_RETENTION.sweep_interval),
        unreferenced_attachments=r.optional(
            "unreferenced_attachments", duration, DEFAULT_RETENTION.unreferenced_attachments
        ),
    )
    r.finish()
    return retention


def _read_content(value: Value) -> ContentRetention:
    r = value.mapping()
    periods: dict[str, timedelta] = {}
    looser: str | None = None
    for key in _MARKINGS:
        # A stricter marking's content goes no later than a looser one's: an unwritten period
        # follows a shorter one written above it. (The parser refuses durations that are not
        # positive.)
        default = getattr(_DEFAULT_CONTENT, key)
        if looser is not None and r.ok(looser):
            default = min(default, periods[looser])
        periods[key] = r.optional(key, duration, default)
        if looser is not None and r.ok(key, looser) and periods[key] > periods[looser]:
            r.report(key, f"expected at most {looser}'s period: stricter markings go sooner")
        looser = key
    r.finish()
    return ContentRetention(**periods)
