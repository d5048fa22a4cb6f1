"""Reporting what an encoding lost.

Rather than each encoder listing by hand the canonical fields its format has no place for
(a list that drifts as the model grows), the encoder's output is decoded again and compared
with what went in: every field that did not survive the round trip is reported by its path.
This also catches narrowing, such as Zalo becoming "messaging" in a format that only knows
phone, messaging and walk-in.
"""

from __future__ import annotations

from collections.abc import Iterator

from google.protobuf.message import Message

from adapters.base import Problem


def _walk(message: Message, prefix: str) -> Iterator[tuple[str, object]]:
    for descriptor, value in message.ListFields():
        path = f"{prefix}{descriptor.name}"
        if descriptor.type == descriptor.TYPE_MESSAGE:
            if descriptor.is_repeated:
                for index, item in enumerate(value):
                    yield from _walk(item, f"{path}[{index}].")
            else:
                yield from _walk(value, f"{path}.")
        elif descriptor.is_repeated:
            for index, item in enumerate(value):
                yield f"{path}[{index}]", item
        else:
            yield path, value


def lost_fields(original: Message, round_tripped: Message, format_id: str) -> tuple[Problem, ...]:
    """A warning for every set field of original whose value round_tripped does not have."""
    kept = dict(_walk(round_tripped, ""))
    return tuple(
        Problem(path, f"{format_id} cannot hold this field; it was left out")
        if path not in kept
        else Problem(path, f"{format_id} cannot hold this value exactly; it was changed")
        for path, value in _walk(original, "")
        if kept.get(path) != value
    )
