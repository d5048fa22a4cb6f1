"""Reading a federation request body as it arrives, counting its envelopes before any crypto.

An `EnvelopeBatch` has one field, `repeated bytes envelopes = 1`, so its wire form is a run
of records: a tag varint, a length varint, that many bytes. Counting records needs only the
varints, so the endpoint can refuse a batch of too many envelopes as soon as the first record
past the limit begins, whatever the size of the body behind it: 16 MiB hold 8 million empty
envelopes, and the protobuf parser would build every one before anyone could count them.

Records of other fields (a later protocol version's) are skipped but count toward the limit,
so they cannot be used to smuggle an unbounded number of entries past it. Groups (wire types
3 and 4, deprecated and never used by the protocol) and field number 0 are malformed.

`parse_envelope_batch` is the same reading for a body held whole: a pure function of the
bytes, property-tested and fuzzed (tests/fuzzing, tools/fuzz.py) without a server. Whatever a
client sends, the answer is a list of envelopes or a BatchRefused with the HTTP status and a
reason code of docs/PROTOCOL.md, never an exception of a parser.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.config.schema import DEFAULT_LIMITS

ENVELOPES_FIELD = 1
_VARINT, _FIXED64, _LENGTH, _FIXED32 = 0, 1, 2, 5
_FIXED_SIZES = {_FIXED64: 8, _FIXED32: 4}
_MAX_VARINT_BYTES = 10


# The HTTP status each refusal of a body is answered with.
REFUSAL_STATUS = {"body_too_large": 413, "too_many_envelopes": 413, "malformed_request": 400}
BATCH_REFUSAL_CODES = frozenset(REFUSAL_STATUS)


class BatchRefused(Exception):  # noqa: N818 - a verdict on the request
    """The body cannot be processed; `code` is the reason code of the refusal."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    @property
    def status(self) -> int:
        return REFUSAL_STATUS[self.code]


@dataclass(frozen=True)
class BatchLimits:
    """Bounds on one request body."""

    max_batch_bytes: int
    max_envelopes: int = DEFAULT_LIMITS.max_envelopes_per_batch


def parse_envelope_batch(body: bytes, limits: BatchLimits) -> list[bytes]:
    """The envelopes of a whole request body, in order; BatchRefused if it must be refused."""
    if len(body) > limits.max_batch_bytes:
        raise BatchRefused("body_too_large", f"body must be at most {limits.max_batch_bytes} bytes")
    scanner = BatchScanner(limits.max_envelopes)
    scanner.feed(body)
    return scanner.envelopes()


class _NeedMoreBytesError(Exception):
    """More bytes are needed to finish the current record."""


class BatchScanner:
    """Fed the body chunk by chunk; raises BatchRefused as soon as it must be refused."""

    def __init__(self, max_envelopes: int) -> None:
        self._max = max_envelopes
        self._buffer = bytearray()
        self._position = 0  # start of the first record not yet complete
        self._records = 0
        # The end of the last tag counted: a record cut between two chunks is read again when
        # the next chunk arrives, and must not be counted twice.
        self._counted_up_to = 0
        self._spans: list[tuple[int, int]] = []

    def feed(self, chunk: bytes) -> None:
        self._buffer += chunk
        while self._position < len(self._buffer):
            try:
                self._position = self._record(self._position)
            except _NeedMoreBytesError:
                return

    def envelopes(self) -> list[bytes]:
        """The envelopes, once the whole body has been fed."""
        if self._position != len(self._buffer):
            raise BatchRefused("malformed_request", "body is not a blg.v1.EnvelopeBatch")
        if not self._spans:
            raise BatchRefused("malformed_request", "batch holds no envelopes")
        view = memoryview(self._buffer)
        return [bytes(view[start:end]) for start, end in self._spans]

    def _record(self, at: int) -> int:
        """The end of the record starting at `at`; counts it as soon as its tag is read."""
        tag, at = self._varint(at)
        field, wire_type = tag >> 3, tag & 7
        if field == 0 or wire_type not in (_VARINT, _FIXED64, _LENGTH, _FIXED32):
            raise BatchRefused("malformed_request", "body is not a blg.v1.EnvelopeBatch")
        if field == ENVELOPES_FIELD and wire_type != _LENGTH:
            raise BatchRefused("malformed_request", "envelopes must be length-delimited bytes")
        if at > self._counted_up_to:
            self._records += 1
            self._counted_up_to = at
            if self._records > self._max:
                raise BatchRefused(
                    "too_many_envelopes", f"a batch must hold at most {self._max} envelopes"
                )
        if wire_type == _VARINT:
            _, end = self._varint(at)
            return end
        if wire_type in _FIXED_SIZES:
            end = at + _FIXED_SIZES[wire_type]
        else:
            length, at = self._varint(at)
            end = at + length
        if end > len(self._buffer):
            raise _NeedMoreBytesError
        if field == ENVELOPES_FIELD:
            self._spans.append((at, end))
        return end

    def _varint(self, at: int) -> tuple[int, int]:
        value, shift = 0, 0
        for offset in range(_MAX_VARINT_BYTES):
            if at + offset >= len(self._buffer):
                raise _NeedMoreBytesError
            byte = self._buffer[at + offset]
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value, at + offset + 1
            shift += 7
        raise BatchRefused("malformed_request", "body is not a blg.v1.EnvelopeBatch")
