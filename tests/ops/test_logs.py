"""The log formats and the guard that keeps content out of them (gateway/ops/logs.py)."""

from __future__ import annotations

import importlib
import io
import json
import logging
import re
import sys
import threading
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import asyncpg
import pytest
from google.protobuf import json_format
from google.protobuf.message import DecodeError

from gateway.config.values import parse_duration
from gateway.crypto import EnvelopeRejected, RejectReason
from gateway.ops import logs
from gateway.ops.logs import JsonFormatter, LogGuard, TextFormatter, fields
from gateway.wire import canonical

SECRET = "Nguyễn Thị Lan 0912345678"
RFC3339_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def _json_decode_error() -> BaseException:
    try:
        json.loads('{"name": "' + SECRET + '", }')
    except json.JSONDecodeError as error:
        return error
    raise AssertionError("json accepted it")


def _protobuf_parse_error() -> BaseException:
    try:
        json_format.Parse('{"caseId": 1, "x": "' + SECRET + '"}', canonical.Message())
    except json_format.ParseError as error:
        return error
    raise AssertionError("protobuf accepted it")


def _asyncpg_error() -> BaseException:
    # What asyncpg raises on a unique violation: DETAIL quotes the row's values.
    error = asyncpg.UniqueViolationError("duplicate key value violates unique constraint")
    error.detail = f"Key (name)=({SECRET}) already exists."
    return error


def _gateway_frame_error() -> BaseException:
    # A gateway function that raises a builtin error quoting its input.
    try:
        parse_duration(SECRET)
    except ValueError as error:
        return error
    raise AssertionError("parsed")


def _chained_error() -> BaseException:
    try:
        try:
            raise KeyError(SECRET)
        except KeyError as inner:
            raise RuntimeError(SECRET) from inner
    except RuntimeError as error:
        return error
    raise AssertionError("not raised")


THIRD_PARTY_ERRORS: list[tuple[str, Callable[[], BaseException], str]] = [
    ("json", _json_decode_error, "json.decoder.JSONDecodeError"),
    ("protobuf", _protobuf_parse_error, "google.protobuf.json_format.ParseError"),
    ("asyncpg", _asyncpg_error, "asyncpg.exceptions.UniqueViolationError"),
    ("builtin in gateway", _gateway_frame_error, "ValueError"),
    ("chained", _chained_error, "RuntimeError"),
    ("protobuf decode", lambda: DecodeError(SECRET), "google.protobuf.message.DecodeError"),
]


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO, io.StringIO]]:
    """A logger with a JSON and a text handler, each guarded as a running node's are."""
    logger = logging.getLogger(f"gateway.test_logs.{uuid.uuid4().hex}")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    streams = io.StringIO(), io.StringIO()
    for stream, formatter in zip(streams, (JsonFormatter(), TextFormatter()), strict=True):
        handler = logging.StreamHandler(stream)
        handler.setFormatter(formatter)
        handler.addFilter(LogGuard("vn-gialai-police"))
        logger.addHandler(handler)
    yield logger, *streams
    logger.handlers.clear()


def _json_lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_fields_keep_what_is_set_and_ids_as_text() -> None:
    message_id = uuid.uuid4()
    assert fields(peer="kh-ratanakiri-police", message_id=message_id, user=None, count=3) == {
        "blg": {"peer": "kh-ratanakiri-police", "message_id": str(message_id), "count": 3}
    }


def test_a_json_line_holds_time_level_logger_event_node_and_fields(
    captured: tuple[logging.Logger, io.StringIO, io.StringIO],
) -> None:
    logger, as_json, as_text = captured
    message_id = uuid.uuid4()
    logger.info(
        "peer_delivery_failed",
        extra=fields(peer="kh-ratanakiri-police", message_id=message_id, reason="http_503"),
    )
    [line] = _json_lines(as_json)
    assert RFC3339_UTC.fullmatch(str(line.pop("time")))
    assert line == {
        "level": "info",
        "logger": logger.name,
        "event": "peer_delivery_failed",
        "node": "vn-gialai-police",
        "peer": "kh-ratanakiri-police",
        "message_id": str(message_id),
        "reason": "http_503",
    }
    text = as_text.getvalue().rstrip("\n")
    assert re.fullmatch(
        rf"{RFC3339_UTC.pattern} INFO {re.escape(logger.name)} peer_delivery_failed "
        rf"node=vn-gialai-police peer=kh-ratanakiri-police message_id={message_id} "
        r"reason=http_503",
        text,
    ), text


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("raise `ulimit -n`", '"raise `ulimit -n`"'),
        ("vn\nINFO forged line", '"vn\\nINFO forged line"'),
        ("a=b", '"a=b"'),
        ("", '""'),
        ("kh-ratanakiri-police", "kh-ratanakiri-police"),
    ],
)
def test_text_values_that_could_read_as_more_are_quoted(
    captured: tuple[logging.Logger, io.StringIO, io.StringIO], value: str, shown: str
) -> None:
    logger, _, as_text = captured
    logger.warning("envelope_refused", extra=fields(peer=value))
    [line] = as_text.getvalue().splitlines()
    assert line.endswith(f" peer={shown}")


@pytest.mark.parametrize(
    ("make", "type_name"),
    [(make, name) for _, make, name in THIRD_PARTY_ERRORS],
    ids=[label for label, _, _ in THIRD_PARTY_ERRORS],
)
def test_third_party_exception_text_is_withheld_and_its_type_kept(
    captured: tuple[logging.Logger, io.StringIO, io.StringIO],
    make: Callable[[], BaseException],
    type_name: str,
) -> None:
    logger, as_json, as_text = captured
    error = make()
    logger.error("something_failed", exc_info=error)
    written = as_json.getvalue() + as_text.getvalue()
    for part in SECRET.split():
        assert part not in written
    [line] = _json_lines(as_json)
    shown = line["error"]
    assert isinstance(shown, dict)
    assert shown["type"] == type_name
    assert "message" not in shown
    assert f"error {type_name} (other text withheld" in as_text.getvalue()


def test_the_gateway_frames_are_kept_with_file_and_line(
    captured: tuple[logging.Logger, io.StringIO, io.StringIO],
) -> None:
    logger, as_json, _ = captured
    logger.error("something_failed", exc_info=_gateway_frame_error())
    [line] = _json_lines(as_json)
    shown = line["error"]
    assert isinstance(shown, dict)
    frames = shown["at"]
    assert isinstance(frames, list)
    # The project's frames, with their lines: this test's and parse_duration's.
    assert [f for f in frames if f.startswith("tests/ops/test_logs.py:")], frames
    assert [f for f in frames if f.startswith("gateway/config/values.py:")], frames


def test_causes_are_named_by_type(
    captured: tuple[logging.Logger, io.StringIO, io.StringIO],
) -> None:
    logger, as_json, _ = captured
    logger.error("something_failed", exc_info=_chained_error())
    [line] = _json_lines(as_json)
    shown = line["error"]
    assert isinstance(shown, dict)
    assert (shown["type"], shown["causes"]) == ("RuntimeError", ["KeyError"])


def test_the_gateways_own_safe_errors_keep_their_message(
    captured: tuple[logging.Logger, io.StringIO, io.StringIO],
) -> None:
    logger, as_json, _ = captured
    rejected = EnvelopeRejected(RejectReason.MESSAGE_EXPIRED, "expires_at has passed")
    logger.warning("envelope_refused", exc_info=rejected)
    [line] = _json_lines(as_json)
    assert line["error"] == {
        "type": "gateway.crypto.envelope.EnvelopeRejected",
        "message": str(rejected),
    }, "a safe type keeps its text"


@pytest.mark.parametrize("name", sorted(logs.SAFE_MESSAGES))
def test_every_safe_type_names_an_exception_class(name: str) -> None:
    module, _, qualname = name.rpartition(".")
    found = getattr(importlib.import_module(module), qualname)
    assert isinstance(found, type)
    assert issubclass(found, Exception)


@pytest.mark.parametrize(
    ("message", "args", "expected_event", "withheld"),
    [
        ("connection from %s failed: %r", ("10.0.0.1", SECRET), "connection from %s failed: %r", 2),
        (
            "Task exception was never retrieved\nfuture: <Task exception=ValueError('"
            + SECRET
            + "')>",
            (),
            "Task exception was never retrieved",
            None,
        ),
        ("payload %(value)s", {"value": SECRET}, "payload %(value)s", 1),
    ],
    ids=["positional", "multi-line", "mapping"],
)
def test_another_librarys_record_keeps_its_template_without_values(
    captured: tuple[logging.Logger, io.StringIO, io.StringIO],
    message: str,
    args: object,
    expected_event: str,
    withheld: int | None,
) -> None:
    _, as_json, as_text = captured
    library = logging.getLogger("aiohttp.test_logs")
    library.handlers = captured[0].handlers
    library.propagate = False
    try:
        library.error(message, *(args if isinstance(args, tuple) else (args,)))
    finally:
        library.handlers = []
    [line] = _json_lines(as_json)
    assert line["event"] == expected_event
    assert line.get("arguments_withheld") == withheld
    for part in SECRET.split():
        assert part not in as_json.getvalue() + as_text.getvalue()


def test_an_operators_dict_config_gets_the_guard_on_its_handlers(tmp_path: Path) -> None:
    """A plain logging.Formatter of the operator's, which would print a traceback with the
    exception's text, prints the guarded form."""
    output = tmp_path / "node.log"
    config_file = tmp_path / "logging.yaml"
    config_file.write_text(
        "version: 1\n"
        "disable_existing_loggers: false\n"
        "formatters:\n"
        "  plain: {format: '%(levelname)s %(name)s %(message)s'}\n"
        "handlers:\n"
        f"  file: {{class: logging.FileHandler, filename: '{output}', formatter: plain}}\n"
        "root: {level: DEBUG, handlers: [file]}\n"
    )
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        logs.configure("vn-gialai-police", config_file=config_file)
        logging.getLogger("gateway.test_logs").error(
            "something_failed", exc_info=_json_decode_error()
        )
        for handler in root.handlers:
            handler.flush()
    finally:
        for handler in root.handlers:
            if handler not in saved[0]:
                handler.close()
        root.handlers, root.level = saved[0], saved[1]
    written = output.read_text(encoding="utf-8")
    assert "ERROR gateway.test_logs something_failed" in written
    assert "json.decoder.JSONDecodeError (other text withheld" in written
    assert "Nguyễn" not in written


def test_the_dict_config_example_of_the_config_readme_works(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[2] / "config" / "README.md").read_text()
    blocks = re.findall(r"```yaml\n(version: 1\n.*?)```", readme, re.S)
    assert len(blocks) == 1
    output = tmp_path / "node.log"
    config_file = tmp_path / "logging.yaml"
    config_file.write_text(blocks[0].replace("/var/log/blg/node.log", str(output)))
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        logs.configure("kh-ratanakiri-police", config_file=config_file)
        logging.getLogger("gateway.test_logs").warning(
            "envelope_refused", extra=fields(peer="vn-gialai-police"), exc_info=_asyncpg_error()
        )
    finally:
        for handler in root.handlers:
            if handler not in saved[0]:
                handler.close()
        root.handlers, root.level = saved[0], saved[1]
    [line] = [json.loads(text) for text in output.read_text(encoding="utf-8").splitlines()]
    assert line["event"] == "envelope_refused"
    assert line["node"] == "kh-ratanakiri-police"
    assert line["error"]["type"] == "asyncpg.exceptions.UniqueViolationError"
    assert "Nguyễn" not in output.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("handlers: {}\n", "expected a logging.config dictConfig mapping with `version: 1`"),
        ("version: [1\n", "not valid YAML or JSON at line 2"),
        ('{"version": 2}', "expected a logging.config dictConfig mapping"),
    ],
)
def test_a_bad_dict_config_file_is_refused_saying_why(
    tmp_path: Path, content: str, problem: str
) -> None:
    config_file = tmp_path / "logging.yaml"
    config_file.write_text(content)
    with pytest.raises(ValueError, match=re.escape(problem)):
        logs.read_dict_config(config_file)


def test_a_json_dict_config_file_is_read(tmp_path: Path) -> None:
    config_file = tmp_path / "logging.json"
    config_file.write_text(json.dumps({"version": 1, "root": {"level": "INFO"}}))
    assert logs.read_dict_config(config_file)["root"] == {"level": "INFO"}


@pytest.fixture
def configured() -> Iterator[io.StringIO]:
    """logs.configure() of a node at debug in JSON into a stream; everything it changes in
    the process (root handlers, levels, Python's hooks) restored afterwards."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    saved_levels = {name: logging.getLogger(name).level for name in ("gateway", "adapters")}
    hooks = sys.excepthook, threading.excepthook, warnings.showwarning
    stream = io.StringIO()
    try:
        logs.configure("vn-gialai-police", level="debug", stream=stream)
        yield stream
    finally:
        root.handlers, root.level = saved_handlers, saved_level
        for name, level in saved_levels.items():
            logging.getLogger(name).setLevel(level)
        sys.excepthook, threading.excepthook, warnings.showwarning = hooks


def test_an_uncaught_exception_is_one_guarded_line(configured: io.StringIO) -> None:
    error = _json_decode_error()
    sys.excepthook(type(error), error, error.__traceback__)
    [line] = _json_lines(configured)
    assert (line["event"], line["level"]) == ("uncaught_exception", "critical")
    assert line["error"]["type"] == "json.decoder.JSONDecodeError"  # type: ignore[index]
    assert "Nguyễn" not in configured.getvalue()


def test_an_uncaught_exception_in_a_thread_is_one_guarded_line(configured: io.StringIO) -> None:
    def fail() -> None:
        raise ValueError(SECRET)

    worker = threading.Thread(target=fail, name="decoder")
    worker.start()
    worker.join()
    [line] = _json_lines(configured)
    assert (line["event"], line["thread"]) == ("uncaught_exception", "decoder")
    assert "Nguyễn" not in configured.getvalue()


def test_a_warning_is_logged_by_category_and_place_without_its_text(
    configured: io.StringIO,
) -> None:
    warnings.showwarning(UserWarning(SECRET), UserWarning, parse_duration.__code__.co_filename, 7)
    [line] = _json_lines(configured)
    assert line["event"] == "python_warning"
    assert (line["category"], line["at"]) == ("UserWarning", "gateway/config/values.py:7")
    assert "Nguyễn" not in configured.getvalue()


def test_the_level_is_the_gateways_and_other_libraries_say_only_warnings(
    configured: io.StringIO,
) -> None:
    logging.getLogger("gateway.test_logs").setLevel(logging.NOTSET)
    root = logging.getLogger()
    assert logging.getLogger("gateway.test_logs").getEffectiveLevel() == logging.DEBUG
    assert root.level == logging.DEBUG  # at debug, everything
    logs.configure("vn-gialai-police", level="info", stream=configured)
    assert logging.getLogger("gateway.test_logs").getEffectiveLevel() == logging.INFO
    assert logging.getLogger("fontTools.subset").getEffectiveLevel() == logging.WARNING
