"""The converters of config values: each takes a `Value` (walker.py) and returns the typed
value, or records an issue and raises `Rejected`.

Scalars are read with PyYAML's own rules (its SafeConstructor, node by node), so `0x1F`,
`1_000` and the timestamp forms mean what they mean in any YAML file.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

import yaml
from yaml.constructor import SafeConstructor

from gateway.config.values import (
    DURATION_EXPECTED,
    INSTANT_EXPECTED,
    MAX_SIZE,
    MAX_SIZE_TEXT,
    SIZE_EXPECTED,
    parse_duration,
    parse_instant,
    parse_size,
    to_utc,
)
from gateway.config.walker import STANDARD_TAG_PREFIX, Rejected, Value, node_line

T = TypeVar("T")
N = TypeVar("N", int, float)
S = TypeVar("S", bound=str)
# Longer than any sensible setting (a 64-bit integer is 20 digits), far below the 4,300 digits
# at which Python refuses to read an integer.
MAX_NUMBER_CHARS = 64
TAG_INT = STANDARD_TAG_PREFIX + "int"
TAG_FLOAT = STANDARD_TAG_PREFIX + "float"
TAG_BOOL = STANDARD_TAG_PREFIX + "bool"
TAG_TIMESTAMP = STANDARD_TAG_PREFIX + "timestamp"
# PyYAML's own scalar rules (0x1F, 1_000, the timestamp forms), applied node by node.
_CONSTRUCTOR = SafeConstructor()


def text(value: Value) -> str:
    """Any non-empty scalar, as written."""
    result = value.scalar_text("a non-empty text")
    if not result.strip():
        value.expected("a non-empty text")
    return result


def text_matching(pattern: re.Pattern[str], what: str) -> Callable[[Value], str]:
    def convert(value: Value) -> str:
        expected = f"{what} matching ^{pattern.pattern}$"
        result = value.scalar_text(expected)
        if not pattern.fullmatch(result):
            value.expected(expected)
        return result

    return convert


def _number(value: Value, node: yaml.ScalarNode, construct: Callable[[yaml.ScalarNode], N]) -> N:
    """YAML's own reading of a number, refused past MAX_NUMBER_CHARS characters.

    Without the bound, 4,301 digits raise Python's ValueError (its int-from-text limit), and
    a 400-digit integer overflows float(): both escaped as a traceback instead of a line."""
    if len(node.value) > MAX_NUMBER_CHARS:
        value.expected(f"a number of at most {MAX_NUMBER_CHARS} characters")
    try:
        return construct(node)
    except (ValueError, OverflowError):
        value.expected("a number")


def integer(value: Value) -> int:
    node = value.scalar_node("an integer")
    if node.tag != TAG_INT:
        value.expected("an integer")
    return _number(value, node, _CONSTRUCTOR.construct_yaml_int)


def integer_in(low: int, high: int, what: str = "an integer") -> Callable[[Value], int]:
    def convert(value: Value) -> int:
        result = integer(value)
        if not low <= result <= high:
            value.expected(f"{what} from {low} to {high}")
        return result

    return convert


def positive_number(value: Value) -> float:
    node = value.scalar_node("a number")
    if node.tag == TAG_INT:
        result = float(_number(value, node, _CONSTRUCTOR.construct_yaml_int))
    elif node.tag == TAG_FLOAT:
        result = _number(value, node, _CONSTRUCTOR.construct_yaml_float)
    else:
        value.expected("a number")
    # The comparison is False for NaN, so NaN is refused along with zero and negatives.
    if not 0 < result < float("inf"):
        value.expected("a finite number larger than zero")
    return result


def boolean(value: Value) -> bool:
    node = value.scalar_node("true or false")
    if node.tag != TAG_BOOL:
        value.expected("true or false")
    return _CONSTRUCTOR.construct_yaml_bool(node)


def choice(options: Sequence[S]) -> Callable[[Value], S]:
    def convert(value: Value) -> S:
        node = value.node
        found = node.value if isinstance(node, yaml.ScalarNode) and not value.is_null else None
        if found not in options:
            value.expected(f"one of: {', '.join(options)}")
        return options[options.index(found)]

    return convert


def duration(value: Value) -> timedelta:
    try:
        return parse_duration(value.scalar_text(DURATION_EXPECTED))
    except ValueError as error:
        value.expected(str(error))


def size(value: Value) -> int:
    node = value.scalar_node(SIZE_EXPECTED)
    if node.tag == TAG_INT:
        result = _number(value, node, _CONSTRUCTOR.construct_yaml_int)
        if not 0 < result <= MAX_SIZE:
            value.expected(f"a size larger than zero and at most {MAX_SIZE_TEXT}")
        return result
    try:
        return parse_size(value.scalar_text(SIZE_EXPECTED))
    except ValueError as error:
        value.expected(str(error))


def instant(value: Value) -> datetime:
    """A YAML timestamp or an ISO 8601 string, with a zone; the result is in UTC."""
    node = value.scalar_node(INSTANT_EXPECTED)
    try:
        if node.tag == TAG_TIMESTAMP:
            return to_utc(_CONSTRUCTOR.construct_yaml_timestamp(node))
        return parse_instant(value.scalar_text(INSTANT_EXPECTED))
    except ValueError:  # also the out-of-range dates (2026-13-45) that match YAML's pattern
        value.expected(INSTANT_EXPECTED)


def path(value: Value) -> Path:
    """A file or directory path; relative ones are relative to the config file's directory."""
    try:
        return value.walk.resolve_path(text(value))
    except ValueError as error:
        value.expected(str(error))


def sequence_of(
    convert: Callable[[Value], T],
    *,
    item: str,
    min_items: int = 0,
    unique_by: Sequence[tuple[str, Callable[[T], Hashable]]] = (),
) -> Callable[[Value], tuple[T, ...]]:
    """A converter for a YAML list whose items `convert` reads.

    `item` names one item in messages ("key pair"); each `unique_by` entry is (an item's key
    that must be unique across the list, how to get it from a converted item). Items that fail
    do not stop the others.
    """

    def read(value: Value) -> tuple[T, ...]:
        node = value.node
        if not isinstance(node, yaml.SequenceNode):
            value.expected(f"a list of {item}s")
        if len(node.value) < min_items:
            wanted = "one" if min_items == 1 else str(min_items)
            found = "an empty list" if not node.value else f"{len(node.value)}"
            value.fail(
                f"expected at least {wanted} {item}{'s' if min_items > 1 else ''}, got {found}"
            )
        results: list[T] = []
        first_paths: list[dict[Hashable, str]] = [{} for _ in unique_by]
        failed = False
        for index, item_node in enumerate(node.value):
            item_path = f"{value.path}[{index}]"
            try:
                item_value = value.walk.value(item_node, item_path, node_line(item_node))
                result = convert(item_value)
            except Rejected:
                failed = True
                continue
            for (unique_key, get), first_path in zip(unique_by, first_paths, strict=True):
                identity = get(result)
                if identity in first_path:
                    shown = f" {identity!r}" if isinstance(identity, str) else ""
                    value.walk.report(
                        item_value.child_line(unique_key),
                        f"{item_path}.{unique_key}",
                        f"duplicate {unique_key}{shown}: {first_path[identity]} already has it; "
                        f"expected each {unique_key} to be unique",
                    )
                    failed = True
                else:
                    first_path[identity] = item_path
            results.append(result)
        if failed:
            raise Rejected
        return tuple(results)

    return read
