"""JSON read within bounds: depth, values, string length and number length.

`json.loads` alone lets two faults escape as the wrong exception: nesting deeper than the
interpreter's recursion limit raises RecursionError, and an integer longer than Python's
4,300-digit conversion limit raises a plain ValueError. Both are turned here into
DocumentTooComplex naming the place (a JSON pointer, or the line and column of a number), and
the bounds the partner formats need, far tighter than those, are checked on the loaded value
without recursion.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from adapters.base import DocumentInvalid, Problem
from adapters.common.limits import DecodeLimits, check_deadline, too_complex

_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|-?[0-9][0-9.eE+-]*')
_POINTER_TOKEN_CHARS = 40
# JSON may escape half a surrogate pair (\ud800) and json.loads gives it back as a lone
# surrogate, which is not text: protobuf's lookups of a field or enum value by such a name fail
# with SystemError (found by the long fuzz run), and no field could store it. No string of a
# document may hold one.
_SURROGATE = re.compile("[\ud800-\udfff]")
UNPAIRED_SURROGATE = "expected text in valid Unicode; an escape names half a character"
UNPAIRED_SURROGATE_IN_NAME = (
    "expected a member name in valid Unicode; an escape names half a character"
)


class _NumberTooLong(Exception):  # noqa: N818 - internal signal out of json's hooks
    pass


def _where_number(text: str, limit: int) -> str:
    """Line and column of the first number longer than limit (strings skipped)."""
    for token in _TOKEN.finditer(text):
        if not token.group().startswith('"') and len(token.group().lstrip("-")) > limit:
            line = text.count("\n", 0, token.start()) + 1
            column = token.start() - (text.rfind("\n", 0, token.start()) + 1) + 1
            return f"line {line}, column {column}"
    return "/"


def json_pointer(parent: str, token: str | int) -> str:
    """RFC 6901 pointer of a member or item; long keys are cut (a key may be data)."""
    text = str(token)
    if len(text) > _POINTER_TOKEN_CHARS:
        text = text[:_POINTER_TOKEN_CHARS] + "..."
    escaped = text.replace("~", "~0").replace("/", "~1")
    return f"{parent}/{escaped.encode('utf-8', 'backslashreplace').decode('utf-8')}"


def check_value(value: object, limits: DecodeLimits) -> None:
    """DocumentTooComplex when the loaded value is too deep, too large or holds long strings.

    Containers are counted whole as they are met, so a list of a million items is refused at
    its own pointer without a pointer being made for each item."""
    pending: list[tuple[object, str, int]] = [(value, "", 0)]
    counted = 1
    while pending:
        item, where, depth = pending.pop()
        if depth > limits.max_depth:
            raise too_complex("depth", where, f"expected nesting at most {limits.max_depth} deep")
        if isinstance(item, str):
            if _SURROGATE.search(item):
                raise DocumentInvalid([Problem(where or "/", UNPAIRED_SURROGATE)])
            if len(item) > limits.max_field_chars:
                raise too_complex(
                    "field_length",
                    where or "/",
                    f"expected at most {limits.max_field_chars} characters",
                )
        elif isinstance(item, dict | list):
            counted += len(item)
            if counted > limits.max_nodes:
                raise too_complex(
                    "values", where or "/", f"expected at most {limits.max_nodes} values"
                )
            check_deadline(where or "/")
            if isinstance(item, dict):
                for key, member in reversed(list(item.items())):
                    at = json_pointer(where, key)
                    if _SURROGATE.search(key):
                        raise DocumentInvalid([Problem(at, UNPAIRED_SURROGATE_IN_NAME)])
                    if len(key) > limits.max_field_chars:
                        raise too_complex(
                            "field_length",
                            at,
                            f"expected keys of at most {limits.max_field_chars} characters",
                        )
                    pending.append((member, at, depth + 1))
            else:
                pending.extend(
                    (member, json_pointer(where, index), depth + 1)
                    for index, member in reversed(list(enumerate(item)))
                )


def loads(
    text: str,
    limits: DecodeLimits,
    object_pairs_hook: Callable[[list[tuple[str, Any]]], Any] | None = None,
) -> object:
    """The JSON value of text within limits (its size in bytes is the caller's to check, before
    decoding it); json.JSONDecodeError for bad syntax."""

    def number(kind: Callable[[str], Any]) -> Callable[[str], Any]:
        def parse(token: str) -> Any:  # noqa: ANN401 - int or float, as json gives them
            if len(token.lstrip("-")) > limits.max_number_digits:
                raise _NumberTooLong
            return kind(token)

        return parse

    try:
        value = json.loads(
            text,
            object_pairs_hook=object_pairs_hook,
            parse_int=number(int),
            parse_float=number(float),
        )
    except _NumberTooLong:
        raise too_complex(
            "number_length",
            _where_number(text, limits.max_number_digits),
            f"expected numbers of at most {limits.max_number_digits} characters",
        ) from None
    except RecursionError:
        raise too_complex(
            "depth", "/", f"expected nesting at most {limits.max_depth} deep"
        ) from None
    check_value(value, limits)
    return value
