"""The node's logs: one event per line, fields an operator can filter on, no victim data.

Code logs an event name and fields, never a sentence with values in it:

    log.warning("peer_delivery_failed", extra=fields(peer=peer, reason=code, attempt=3))

`fields()` is typed: the common fields are named parameters (peer, message_id, kind, state,
reason, user, client), and a few more counts or codes may follow as keywords; the node id is
stamped on every line by the handler's LogGuard. They
travel on the record under one attribute (`blg`), so that they never collide with a
LogRecord's own attributes and a formatter tells them from other libraries' extras. What a
field may hold is the rule of the whole gateway: identifiers, states, reason codes, counts,
times. A name, a phone, a document number or any free text of a message never goes into a
field; the leak test (tests/federation/test_no_leaks.py) sends every partner sample through
real nodes at DEBUG and fails on any line that quotes one.

Two formats: JSON (one object per line, the default: what a log shipper reads) and text
(`time LEVEL logger event key=value ...`, for a terminal). Both are formatters of the
standard `logging` module, so an operator's own `logging.config_file` (dictConfig) can name
them (`()`: gateway.ops.logs.JsonFormatter) with handlers of their choosing.

Exceptions are where content leaks without anyone writing it: asyncpg's DETAIL quotes a row's
values, a JSON or protobuf decode error quotes its input, aiohttp's quote a header. So the
guard rewrites every record as it is created (it is the process's LogRecord factory from the
moment this module is imported, which every gateway module that logs does), before any
handler or formatter sees it, whoever configured them (the node, an operator's dictConfig
file, a test's caplog):
- an exception keeps its type, the types of its causes and the file:line of the gateway's
  own frames; its message only when its type is one of the gateway's own whose text is built
  from codes and identifiers (SAFE_MESSAGES), never a third party's;
- a record of another library keeps the first line of its message template, without its
  arguments (asyncio's "Task exception was never retrieved" continues with the task's repr,
  which holds the exception's text).
The guard works on the record rather than in a formatter so that an operator's own formatter
cannot print what it removed. A `LogGuard` filter on every handler stamps the node id, and
guards a record that was made without the factory (logging.makeLogRecord). What Python would
write to stderr by itself, an uncaught exception's traceback or a warning, is routed through
logging too, so the stream stays one line per event in one format.

`level` is the gateway's: other libraries log warnings and errors only, unless the level is
debug (at info, fontTools alone writes a hundred lines on subsetting the console's font).
"""

from __future__ import annotations

import json
import logging
import logging.config
import sys
import threading
import traceback
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TextIO
from uuid import UUID

import yaml

if TYPE_CHECKING:
    from aiohttp import web

LogFormat = Literal["json", "text"]
LogLevel = Literal["debug", "info", "warning", "error"]

FieldValue = str | int | float | bool | UUID | None
# The attribute of a LogRecord that carries fields(); a dict of str to JSON-able values.
FIELDS_ATTRIBUTE = "blg"
# The attribute the guard sets with the redacted exception (see RedactedError).
ERROR_ATTRIBUTE = "blg_error"
_NODE_ATTRIBUTE = "blg_node"
_GUARDED_ATTRIBUTE = "blg_guarded"

# Exceptions of the gateway whose text is built from reason codes, identifiers and states
# only, never from a message's content or a third party's text (tests/ops/test_logs.py checks
# that every name here still names a class). By name rather than by import: logging must not
# import the whole gateway, and a class renamed without this list fails that test. Not here:
# AlreadyQueued (its text is a dropped file's name, which a local system may make a person's).
SAFE_MESSAGES = frozenset(
    {
        "gateway.crypto.envelope.EnvelopeRejected",
        "gateway.crypto.receipt.ReceiptInvalid",
        "gateway.crypto.drafts.DraftUnreadable",
        "gateway.delivery.targets.TargetUnavailable",
        "gateway.federation.batch.BatchRefused",
        "gateway.store.store.OutboxStateError",
        "gateway.store.drafts.DraftNotAwaiting",
        "gateway.store.drafts.OwnDraft",
        "gateway.config.issues.ConfigError",
    }
)
# Where the gateway's own source lives: frames there are shown, others are left out.
_SOURCE_ROOT = Path(__file__).resolve().parents[2]
_OWN_PACKAGES = ("gateway", "adapters")
_OWN_SOURCE = (*_OWN_PACKAGES, "tests", "bench", "tools")
# Deep enough to locate a failure in a handler; a recursion's thousand frames are not read.
_MAX_FRAMES = 12
_MAX_CAUSES = 5
_LEVELS: Mapping[LogLevel, int] = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def fields(
    *,
    peer: str | None = None,
    message_id: UUID | str | None = None,
    kind: str | None = None,
    state: str | None = None,
    reason: str | None = None,
    user: int | None = None,
    client: str | None = None,
    **more: FieldValue,
) -> dict[str, object]:
    """The `extra=` of a log call: the named fields that are set, and the `more` that are.

    `more` holds further identifiers, codes and counts (attempt=3, count=12); never text of
    a message or anything a person typed."""
    return fields_from(
        {
            "peer": peer,
            "message_id": message_id,
            "kind": kind,
            "state": state,
            "reason": reason,
            "user": user,
            "client": client,
            **more,
        }
    )


def fields_from(given: Mapping[str, FieldValue]) -> dict[str, object]:
    """fields() of a mapping built elsewhere (same rules; None values are left out)."""
    return {
        FIELDS_ATTRIBUTE: {
            key: str(value) if isinstance(value, UUID) else value
            for key, value in given.items()
            if value is not None
        }
    }


def route_template(request: web.BaseRequest) -> str:
    """The request's route as declared (/console/cases/{case_id}), never the path as
    requested: a path may carry what a form sent, and the template is what to filter on."""
    # Duck-typed: aiohttp is imported for the type only, so that the config (which names
    # this module's LogFormat) does not load a web framework.
    match_info = getattr(request, "match_info", None)
    resource = match_info.route.resource if match_info is not None else None
    return str(resource.canonical) if resource is not None else "unmatched"


@dataclass(frozen=True)
class RedactedError:
    """What the logs may show of an exception."""

    type: str
    # Only for SAFE_MESSAGES types; None otherwise.
    message: str | None
    # "gateway/federation/sender.py:123 in _send", innermost last.
    at: tuple[str, ...]
    # The types of __cause__ / __context__, nearest first.
    causes: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        shown: dict[str, object] = {"type": self.type}
        if self.message is not None:
            shown["message"] = self.message
        if self.at:
            shown["at"] = list(self.at)
        if self.causes:
            shown["causes"] = list(self.causes)
        return shown

    def as_text(self) -> str:
        head = self.type if self.message is None else f"{self.type}: {self.message}"
        lines = [f"error {head} (other text withheld: it may quote content)"]
        lines += [f"  at {frame}" for frame in self.at]
        lines += [f"  caused by {cause}" for cause in self.causes]
        return "\n".join(lines)


def _type_name(kind: type[BaseException]) -> str:
    module = kind.__module__
    return kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"


def _own_source(filename: str) -> str | None:
    """The path of a file of the project's own source, relative to its root; else None."""
    try:
        relative = Path(filename).resolve().relative_to(_SOURCE_ROOT)
    except ValueError:
        return None
    return relative.as_posix() if relative.parts and relative.parts[0] in _OWN_SOURCE else None


def _own_frames(trace: TracebackType | None) -> tuple[str, ...]:
    shown: list[str] = []
    for frame in traceback.extract_tb(trace):
        relative = _own_source(frame.filename)
        if relative is not None:
            shown.append(f"{relative}:{frame.lineno} in {frame.name}")
    return tuple(shown[-_MAX_FRAMES:])


def redact(error: BaseException) -> RedactedError:
    """The type, gateway frames and cause types of `error`; its text only when safe."""
    name = _type_name(type(error))
    message = str(error) if name in SAFE_MESSAGES else None
    causes: list[str] = []
    seen = {id(error)}
    link = error.__cause__ or error.__context__
    while link is not None and id(link) not in seen and len(causes) < _MAX_CAUSES:
        seen.add(id(link))
        causes.append(_type_name(type(link)))
        link = link.__cause__ or link.__context__
    return RedactedError(name, message, _own_frames(error.__traceback__), tuple(causes))


def _is_own(logger_name: str) -> bool:
    return logger_name.split(".", 1)[0] in _OWN_PACKAGES


def guard(record: logging.LogRecord) -> logging.LogRecord:
    """Rewrite `record` as the module docstring says; once (a second call does nothing)."""
    if getattr(record, _GUARDED_ATTRIBUTE, False):
        return record
    setattr(record, _GUARDED_ATTRIBUTE, True)
    if record.exc_info and record.exc_info[1] is not None:
        redacted = redact(record.exc_info[1])
        setattr(record, ERROR_ATTRIBUTE, redacted)
        # A standard formatter prints exc_text when set and exc_info is gone.
        record.exc_info = None
        record.exc_text = redacted.as_text()
    if not _is_own(record.name):
        template = record.msg if isinstance(record.msg, str) else type(record.msg).__name__
        lines = template.strip().splitlines()
        record.msg = lines[0] if lines else ""
        if record.args:
            extra = getattr(record, FIELDS_ATTRIBUTE, None) or {}
            count = len(record.args) if isinstance(record.args, tuple) else 1
            setattr(record, FIELDS_ATTRIBUTE, {**extra, "arguments_withheld": count})
        record.args = None
    return record


def _install_record_factory() -> None:
    made = logging.getLogRecordFactory()
    if getattr(made, "blg_guarded", False):
        return  # imported twice (importlib.reload)

    def guarded(*args: Any, **kwargs: Any) -> logging.LogRecord:  # noqa: ANN401 - LogRecord's
        return guard(made(*args, **kwargs))

    guarded.blg_guarded = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(guarded)


_install_record_factory()


class LogGuard(logging.Filter):
    """Stamps the node id on every record a handler gets, and guards it if it is not yet."""

    def __init__(self, node: str | None = None) -> None:
        super().__init__()
        self.node = node

    def filter(self, record: logging.LogRecord) -> bool:
        guard(record)
        if self.node is not None:
            setattr(record, _NODE_ATTRIBUTE, self.node)
        return True


def _time(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _record_fields(record: logging.LogRecord) -> dict[str, object]:
    found = getattr(record, FIELDS_ATTRIBUTE, None)
    return dict(found) if isinstance(found, dict) else {}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (RFC 3339, UTC), level, logger, event, node, fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": _time(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        node = getattr(record, _NODE_ATTRIBUTE, None)
        if node is not None:
            line["node"] = node
        for key, value in _record_fields(record).items():
            line.setdefault(key, value)  # a field never hides time, level or event
        error = getattr(record, ERROR_ATTRIBUTE, None)
        if isinstance(error, RedactedError):
            line["error"] = error.as_dict()
        elif record.exc_info or record.exc_text:
            # Not guarded (a handler without LogGuard): the type only, never the text.
            line["error"] = {"type": "unknown (log handler without LogGuard)"}
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`2026-11-30T09:40:00.123Z WARNING gateway.federation.sender event key=value ...`."""

    def format(self, record: logging.LogRecord) -> str:
        parts = [_time(record), record.levelname, record.name, record.getMessage()]
        node = getattr(record, _NODE_ATTRIBUTE, None)
        shown = {"node": node} if node is not None else {}
        shown.update(_record_fields(record))
        parts += [f"{key}={_text_value(value)}" for key, value in shown.items()]
        line = " ".join(parts)
        error = getattr(record, ERROR_ATTRIBUTE, None)
        if isinstance(error, RedactedError):
            line += "\n" + error.as_text()
        return line


def _text_value(value: object) -> str:
    """As is, or quoted and escaped when it could be read as more than one value or line (a
    claimed sender id is whatever a client sent)."""
    text = str(value)
    plain = text and all(c.isprintable() and not c.isspace() and c not in '="' for c in text)
    return text if plain else json.dumps(text, ensure_ascii=False)


def read_dict_config(path: Path) -> dict[str, Any]:
    """An operator's logging.config file (YAML or JSON); ValueError saying what is wrong."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ValueError(f"cannot read {path}: {error.strerror or type(error).__name__}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}: expected UTF-8 text") from None
    try:
        # JSON is read as YAML too (YAML 1.2 is a superset, PyYAML's 1.1 reads plain JSON).
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ValueError(f"{path}: not valid YAML or JSON{where}") from None
    if not isinstance(document, dict) or document.get("version") != 1:
        raise ValueError(
            f"{path}: expected a logging.config dictConfig mapping with `version: 1` "
            "(https://docs.python.org/3/library/logging.config.html)"
        )
    return document


def configure(
    node: str,
    *,
    level: LogLevel = "info",
    log_format: LogFormat = "json",
    config_file: Path | None = None,
    stream: TextIO | None = None,
) -> None:
    """Set up the process's logging: the operator's dictConfig file when given, else one
    handler on stderr in `log_format` at `level`; then a LogGuard on every handler."""
    if config_file is not None:
        logging.config.dictConfig(read_dict_config(config_file))
    else:
        handler = logging.StreamHandler(stream or sys.stderr)
        handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
        root = logging.getLogger()
        for old in list(root.handlers):
            root.removeHandler(old)
        root.addHandler(handler)
        # `level` is the gateway's (module docstring).
        root.setLevel(logging.DEBUG if level == "debug" else logging.WARNING)
        for own in _OWN_PACKAGES:
            logging.getLogger(own).setLevel(_LEVELS[level])
    guard_all_handlers(node)
    _route_stray_output()


def _route_stray_output() -> None:
    """What Python itself writes to stderr (an uncaught exception's traceback, a warning)
    goes through logging instead: guarded like any record, and one line in the log format
    rather than raw text in the middle of a JSON stream."""
    internal = logging.getLogger("gateway.ops.logs")

    def uncaught(
        kind: type[BaseException], error: BaseException, trace: TracebackType | None
    ) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, error, trace)
            return
        internal.critical("uncaught_exception", exc_info=(kind, error, trace))

    def uncaught_in_thread(hook: threading.ExceptHookArgs) -> None:
        if hook.exc_value is None:
            return
        internal.critical(
            "uncaught_exception",
            exc_info=(hook.exc_type, hook.exc_value, hook.exc_traceback),
            extra=fields(thread=hook.thread.name if hook.thread else None),
        )

    def warning(  # noqa: PLR0917 - warnings.showwarning's signature
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        # The category and place; the text is a library's and may quote what it was given.
        del message, file, line
        internal.warning(
            "python_warning",
            extra=fields(category=_type_name(category), at=_own_place(filename, lineno)),
        )

    sys.excepthook = uncaught
    threading.excepthook = uncaught_in_thread
    warnings.showwarning = warning


def _own_place(filename: str, lineno: int) -> str:
    """`gateway/x.py:12` for the project's own source; a library's file by its name only."""
    relative = _own_source(filename)
    return f"{relative}:{lineno}" if relative else Path(filename).name


def guard_all_handlers(node: str | None) -> None:
    """Put a LogGuard on every handler of every logger known now (and the root's)."""
    loggers: list[logging.Logger] = [logging.getLogger()]
    loggers += [
        found
        for found in logging.Logger.manager.loggerDict.values()
        if isinstance(found, logging.Logger)
    ]
    for logger in loggers:
        for handler in logger.handlers:
            if not any(isinstance(f, LogGuard) for f in handler.filters):
                handler.addFilter(LogGuard(node))
