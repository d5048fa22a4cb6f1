"""Named SQL blocks, loaded once from queries.sql.

Keeping every statement in one .sql file, each under `-- name: NAME`, lets a reviewer read
all the SQL the gateway can run in one place, and lets an editor highlight and check it as
SQL. Code refers to statements by name (`Q.outbox_claim`); a test checks that every name
the store uses exists, so a misspelt name fails in CI, not at 3 a.m.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

_NAME = re.compile(r"^-- name: ([a-z0-9_]+)\s*$", re.MULTILINE)


def load_named_blocks(text: str) -> dict[str, str]:
    """Split text at `-- name: NAME` lines into {NAME: statement without the trailing ;}."""
    parts = _NAME.split(text)
    blocks: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in blocks:
            raise ValueError(f"duplicate query name {name!r}")
        blocks[name] = body.strip().rstrip(";").strip()
    return blocks


class Queries:
    """Attribute access to the named blocks: `Q.outbox_claim`."""

    def __init__(self, blocks: dict[str, str]) -> None:
        self._blocks = blocks

    def __getattr__(self, name: str) -> str:
        try:
            return self._blocks[name]
        except KeyError:
            raise AttributeError(f"no query named {name!r} in queries.sql") from None

    def names(self) -> list[str]:
        return sorted(self._blocks)


Q = Queries(load_named_blocks(resources.files(__package__).joinpath("queries.sql").read_text()))


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every migration file, in version order."""
    folder = resources.files(__package__).joinpath("migrations")
    found = []
    for entry in folder.iterdir():
        name = Path(entry.name)
        if name.suffix == ".sql":
            version = int(name.stem.split("_", 1)[0])
            found.append((version, name.stem, entry.read_text()))
    found.sort()
    versions = [version for version, _, _ in found]
    if len(set(versions)) != len(versions):
        raise ValueError("two migrations share a version number")
    return found
