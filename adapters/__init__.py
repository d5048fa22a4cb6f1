"""Partner formats, one subpackage each, found through the `gateway.adapters` entry points.

The built-in adapters are registered through the same entry-point group as third-party
ones (see pyproject.toml), so there is one way in: a new partner format is a package that
declares `[project.entry-points."gateway.adapters"] my-format = "my_pkg:ADAPTER"`.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from adapters.base import (
    Adapter,
    CannotEncode,
    Decoded,
    DecodeResult,
    DocumentInvalid,
    DocumentTooComplex,
    Encoded,
    Problem,
    RecordError,
)

ENTRY_POINT_GROUP = "gateway.adapters"


class UnknownFormatError(LookupError):
    """No adapter is registered under the asked format id."""


@cache
def registry() -> dict[str, Adapter]:
    """Every installed adapter by format id."""
    found: dict[str, Adapter] = {}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        adapter: Adapter = point.load()
        if adapter.format_id != point.name:
            raise ValueError(
                f"entry point {point.name!r} loads an adapter for {adapter.format_id!r}"
            )
        found[point.name] = adapter
    return found


def adapter_for(format_id: str) -> Adapter:
    try:
        return registry()[format_id]
    except KeyError:
        known = ", ".join(sorted(registry()))
        raise UnknownFormatError(
            f"unknown format {format_id!r}; expected one of: {known}"
        ) from None


__all__ = [
    "ENTRY_POINT_GROUP",
    "Adapter",
    "CannotEncode",
    "DecodeResult",
    "Decoded",
    "DocumentInvalid",
    "DocumentTooComplex",
    "Encoded",
    "Problem",
    "RecordError",
    "UnknownFormatError",
    "adapter_for",
    "registry",
]
