"""Problems found in a node's configuration, reported all at once.

An operator fixing a config file by hand should see every problem in one run, each on one line
in the `FILE:LINE: KEY: MESSAGE` shape that editors and CI logs turn into links. That is why a
load collects issues instead of raising at the first one, and why `ConfigError` is the only
exception a caller has to handle: it carries the issues, never a traceback.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class ConfigIssue:
    """One problem: where it is (1-based line; 0 means the file as a whole) and what was expected.

    `key` is the dotted path of the offending value (`peers[0].url`), empty when the problem
    has no key, such as a YAML syntax error.
    """

    file: str
    line: int
    key: str
    message: str

    def __str__(self) -> str:
        location = f"{self.file}:{self.line}" if self.line > 0 else self.file
        parts = [location, self.key, self.message] if self.key else [location, self.message]
        return _one_line(": ".join(parts))


def _one_line(text: str) -> str:
    """Escape line breaks and other control characters that a path or key may smuggle in."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


class ConfigError(Exception):
    """A configuration could not be loaded; `issues` lists every problem, in file order."""

    def __init__(self, issues: Iterable[ConfigIssue]) -> None:
        self.issues: list[ConfigIssue] = sorted(issues, key=lambda issue: (issue.file, issue.line))
        super().__init__("\n".join(str(issue) for issue in self.issues))
