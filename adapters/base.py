"""What every adapter is: pure functions between a partner's bytes and canonical messages.

Adapters do no I/O and keep no state, so the same code serves the local API, drop folders,
the console and `gateway convert`, and can be tested exhaustively with generated input.

Decoding may yield several messages (a CSV export holds many alerts); a bad record is
reported with where it is and what was expected, and never becomes a half-filled message,
while the good records of the same document still convert. Encoding reports, as warnings,
every field of the canonical message that the target format cannot hold, so nothing is
dropped silently.

Problems never quote the offending value: it may be a victim's name or a phone number, and
problems end up in API answers, logs and `.errors` files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from gateway.wire import Kind, canonical


@dataclass(frozen=True)
class Problem:
    """Where something is wrong (or lost) and what was expected there.

    location is a JSON pointer (`/doi_tuong/ngay_sinh`), an XML line and path
    (`line 12: /Notice/Subject/Person/Born`) or a CSV line and column
    (`line 3, column 12 (Năm sinh nạn nhân)`); for encoding warnings, the canonical field path
    (`hotline_alert.caller.phone`).
    """

    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


@dataclass(frozen=True)
class RecordError:
    """A record of a document that could not be converted, and why."""

    record: str
    problems: tuple[Problem, ...]

    def __str__(self) -> str:
        return "; ".join(self.lines())

    def located(self) -> list[Problem]:
        """The problems, each location naming the record unless it already does."""
        return [
            problem
            if not self.record or problem.location.startswith(self.record)
            else Problem(f"{self.record}: {problem.location}", problem.message)
            for problem in self.problems
        ]

    def lines(self) -> list[str]:
        """One line per problem, for files and terminals."""
        return [str(problem) for problem in self.located()]


@dataclass(frozen=True)
class Decoded:
    """One message decoded from a document, with what the decoder had to normalise."""

    message: canonical.Message
    record: str = ""
    warnings: tuple[Problem, ...] = ()


@dataclass(frozen=True)
class DecodeResult:
    """Everything a document held: converted messages and rejected records."""

    messages: tuple[Decoded, ...] = ()
    rejected: tuple[RecordError, ...] = ()


@dataclass(frozen=True)
class Encoded:
    """A document in the target format and the canonical fields it could not hold."""

    data: bytes
    warnings: tuple[Problem, ...] = field(default=())


class DocumentInvalid(Exception):  # noqa: N818 - a verdict on the caller's input
    """The whole document is unusable (not JSON, not XML, wrong encoding...)."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("; ".join(str(problem) for problem in problems))
        self.problems = tuple(problems)


class DocumentTooComplex(DocumentInvalid):
    """The document exceeds one of the decoder's bounds (bytes, elements, depth, field length,
    number length, rows): refused before it can cost the node time or memory.

    limit names the bound (`bytes`, `elements`, `depth`, ...) so that callers can answer 413
    for size and 422 for the rest; the problem names the place, never the value.
    """

    def __init__(self, limit: str, problem: Problem) -> None:
        super().__init__([problem])
        self.limit = limit


class CannotEncode(Exception):  # noqa: N818 - a verdict on the request
    """The target format cannot carry this message at all (e.g. a kind it does not know)."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


class Adapter(Protocol):
    """A partner format. Registered under its format id (`vn-police-json`)."""

    @property
    def format_id(self) -> str: ...

    @property
    def media_type(self) -> str:
        """What the local API accepts and answers with for this format."""
        ...

    @property
    def kinds(self) -> frozenset[Kind]:
        """Kinds the format can carry."""
        ...

    @property
    def many_per_document(self) -> bool:
        """True when one document holds many messages (CSV exports)."""
        ...

    def decode(self, data: bytes) -> DecodeResult:
        """Raises DocumentInvalid for an unusable document (DocumentTooComplex when it exceeds
        the adapter's bounds); bad records go in `rejected`. Nothing else escapes."""
        ...

    def encode(self, message: canonical.Message) -> Encoded:
        """Raises CannotEncode when the format cannot carry the message's kind."""
        ...
