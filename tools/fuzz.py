"""Long fuzz runs of every input reader: `python tools/fuzz.py --target NAME --count N`.

Targets (tools/fuzz_targets.py): open_envelope, federation_batch, vn-police-json,
kh-police-xml, hotline-111-csv, canonical-json, config; `--target all` runs each in turn.
Prints one line per target for the README table:

    target=open_envelope engine=mutate inputs=20000 crashes=0 crash_types=0 stored=0 ...

Engines:
- `mutate` (default, no extra dependency): a seeded mutation loop over the target's seeds
  (valid samples, the test vector, the edge inputs of fuzz_targets.edge_inputs()) with byte
  flips, inserts of interesting tokens (4,301 digits, deep brackets, NUL, zero-width and
  bidi characters), deletes, cuts, repeats and splices. An input whose outcome (returned, or
  which error type and reason) was not seen before joins the corpus, a cheap stand-in for
  coverage feedback. Deterministic for a given --seed.
- `atheris` (`pip install atheris`; wheels exist for Python 3.11): coverage-guided
  libFuzzer over the same targets and seeds, `-runs=COUNT`; crashes are counted by the
  harness instead of stopping the run, so the summary has the same meaning.

A crash is any exception other than the target's documented error types (or a documented one
with an undocumented reason code). Crash inputs are written to --crashes DIR when given
(0600 files in a 0700 folder), one per crash type.

`--store` (envelope targets only) also hands every input that parses as a batch or envelope to
a real EnvelopeReceiver backed by a real Store on embedded PostgreSQL, as the federation
endpoint does, and counts inbox rows at the end: `stored` must be 0 (the unmodified test
vector, which is validly signed, is the one input allowed to be stored and is not counted).
It is slower, so use it for smaller counts; the pure target suffices for the large ones,
because the receiver stores only what open_envelope returns, and the open_envelope target
counts any input other than the signed test vector that opens as a crash.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

if not __package__:  # run as a script (python tools/fuzz.py): the repository root is needed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fuzz_seeds import EDGE_TOKENS, MUTATIONS
from tools.fuzz_targets import (
    ROOT,
    Crash,
    Target,
    recipient_keyring,
    targets,
    vector_envelope,
    vector_open_at,
)

# The adapters' edge tokens (tests/fuzz_seeds.py, shared with the property tests) and the
# byte-level ones that protobuf, UTF-8 and CSV readers trip on.
TOKENS = [
    *EDGE_TOKENS,
    b"1e999999",
    b'{"a":' * 2000,
    "\u200b".encode(),
    "\u202e".encode(),
    "\ufeff".encode(),
    b"\xff\xfe",
    b"\xc3\x28",
    b"\r\n",
    b",",
    b"&amp;",
    b"]]>",
    b"\x0b" * 200,
    b"\x80" * 10,
    b"x" * 70_000,
]
MAX_CORPUS = 2000
PROGRESS_SECONDS = 30.0


@dataclass
class Summary:
    target: str
    engine: str
    inputs: int = 0
    crashes: int = 0
    crash_types: dict[str, int] = field(default_factory=dict)
    stored: int | None = None
    seconds: float = 0.0

    def line(self) -> str:
        rate = self.inputs / self.seconds if self.seconds else 0.0
        kinds = ";".join(f"{name}x{count}" for name, count in sorted(self.crash_types.items()))
        stored = "-" if self.stored is None else str(self.stored)
        return (
            f"target={self.target} engine={self.engine} inputs={self.inputs} "
            f"crashes={self.crashes} crash_types={len(self.crash_types)} stored={stored} "
            f"seconds={self.seconds:.1f} rate={rate:.0f}/s" + (f" types={kinds}" if kinds else "")
        )


class Harness:
    """Runs one target on inputs, counting crashes by type and saving one input per type."""

    def __init__(self, target: Target, summary: Summary, crashes_dir: Path | None) -> None:
        self.target = target
        self.summary = summary
        self.crashes_dir = crashes_dir
        self.outcomes: set[str] = set()
        self.receiver: StoreCheck | None = None
        self._started = time.monotonic()
        self._next_progress = self._started + PROGRESS_SECONDS

    def run(self, data: bytes) -> bool:
        """Run once; True when the outcome was new (the input is worth keeping)."""
        self.summary.inputs += 1
        if self.summary.inputs % 1000 == 0:
            self._progress()
        try:
            result = self.target.call(data)
        except Crash as crash:
            self._record(crash, data)
            return True
        except RecursionError:  # raised while formatting a Crash of a deep input
            self._record(Crash("RecursionError"), data)
            return True
        except Exception as error:
            # Crash is raised for these; this branch only guards the harness itself.
            self._record(Crash(type(error).__name__), data)
            return True
        if self.receiver is not None:
            self.receiver.feed(self.target.name, data)
        outcome = "returned" if result is not None else "refused"
        key = f"{outcome}:{len(data).bit_length()}"
        if key in self.outcomes:
            return False
        self.outcomes.add(key)
        return True

    def _progress(self) -> None:
        """A line on stderr every PROGRESS_SECONDS: long runs take hours on slow targets."""
        now = time.monotonic()
        if now < self._next_progress:
            return
        self._next_progress = now + PROGRESS_SECONDS
        summary = self.summary
        print(
            f"progress: target={summary.target} inputs={summary.inputs} "
            f"crashes={summary.crashes} rate={summary.inputs / (now - self._started):.0f}/s",
            file=sys.stderr,
            flush=True,
        )

    def _record(self, crash: Crash, data: bytes) -> None:
        cause = crash.__cause__
        where = ""
        if cause is not None and cause.__traceback__ is not None:
            # The deepest frame of our own code names the crash, not the library it called.
            frames = [
                frame
                for frame in traceback.extract_tb(cause.__traceback__)
                if frame.filename.startswith(str(ROOT)) and "/.venv/" not in frame.filename
            ]
            if frames:
                last = frames[-1]
                where = f"@{Path(last.filename).relative_to(ROOT)}:{last.lineno}"
        name = f"{crash}{where}"
        self.summary.crashes += 1
        count = self.summary.crash_types.get(name, 0)
        self.summary.crash_types[name] = count + 1
        if count == 0 and self.crashes_dir is not None:
            self.crashes_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            path = self.crashes_dir / f"{self.target.name}-{len(self.summary.crash_types)}.bin"
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "wb") as out:
                out.write(data)


class StoreCheck:
    """A real receiver and store on embedded PostgreSQL, fed what the pure target accepted."""

    def __init__(self, work_dir: Path) -> None:
        from gateway.crypto import EnvelopeLimits  # noqa: PLC0415 - only for --store
        from gateway.federation.batch import parse_envelope_batch  # noqa: PLC0415
        from gateway.federation.receiver import EnvelopeReceiver  # noqa: PLC0415
        from gateway.ops.metrics import GatewayMetrics  # noqa: PLC0415
        from gateway.store import EmbeddedPostgres, Store  # noqa: PLC0415
        from tools.fuzz_targets import BATCH_LIMITS  # noqa: PLC0415

        self._parse: Callable[[bytes], list[bytes]] = lambda body: parse_envelope_batch(
            body, BATCH_LIMITS
        )
        self.loop = asyncio.new_event_loop()
        self.postgres = EmbeddedPostgres(work_dir / "postgres")
        dsn = self.loop.run_until_complete(self.postgres.ensure_database("fuzz"))
        self.store = self.loop.run_until_complete(Store.connect(dsn))
        self.loop.run_until_complete(self.store.migrate())
        kinds = frozenset({"wanted_person_notice", "victim_handover", "hotline_alert"})
        self.receiver = EnvelopeReceiver(
            keyring=recipient_keyring(),
            store=self.store,
            limits=EnvelopeLimits(),
            receivable_kinds={"vn-gialai-police": kinds},
            clock=vector_open_at,
            metrics=GatewayMetrics(),
        )

    def feed(self, target: str, data: bytes) -> None:
        if target == "open_envelope":
            envelopes = [data]
        else:
            try:
                envelopes = self._parse(data)
            except Exception:  # refused as a whole: the endpoint stores nothing either
                return
        self.loop.run_until_complete(self.receiver.receive("vn-gialai-police", envelopes))

    def stored(self) -> int:
        kinds = ["wanted_person_notice", "victim_handover", "hotline_alert"]
        rows = self.loop.run_until_complete(self.store.inbox_after(0, kinds, 1000))
        return sum(1 for _, data in rows if data != vector_envelope())

    def close(self) -> None:
        self.loop.run_until_complete(self.store.close())
        self.loop.close()
        self.postgres.stop()


def mutate(rng: random.Random, data: bytes, corpus: list[bytes], max_len: int) -> bytes:
    """A few random edits of data."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        at = rng.randint(0, len(out))
        choice = rng.randrange(10)
        if choice == 0 and out:
            index = rng.randrange(len(out))
            out[index] ^= 1 << rng.randrange(8)
        elif choice == 1 and out:
            out[rng.randrange(len(out))] = rng.choice((0, 1, 0x7F, 0x80, 0xFF, 0x22, 0x3C))
        elif choice == 2:
            out[at:at] = rng.randbytes(rng.randint(1, 16))
        elif choice == 3:
            out[at:at] = rng.choice(TOKENS)
        elif choice == 4:
            del out[at : at + rng.randint(1, 64)]
        elif choice == 5:
            del out[at:]
        elif choice == 6:
            out[at:at] = out[at : at + rng.randint(1, 256)] * rng.randint(2, 16)
        elif choice == 7:
            other = rng.choice(corpus)
            start = rng.randint(0, len(other))
            out[at:] = other[start:]
        elif choice == 8:
            # A structure-aware edit: a value replaced by an edge token, and the like.
            out = bytearray(rng.choice(MUTATIONS)(bytes(out), rng))
        else:
            # Interesting integers as ASCII, where text formats read numbers.
            out[at:at] = str(rng.choice((0, -1, 2**31, 2**63, 2**64, 10**20))).encode()
    return bytes(out[:max_len])


def run_mutate(harness: Harness, count: int, seed: int, max_len: int) -> None:
    rng = random.Random(seed)
    corpus = list(harness.target.seeds())
    for data in corpus:
        if harness.summary.inputs >= count:
            return
        harness.run(data)
    while harness.summary.inputs < count:
        data = mutate(rng, rng.choice(corpus), corpus, min(max_len, harness.target.max_len))
        if harness.run(data) and len(corpus) < MAX_CORPUS:
            corpus.append(data)


def run_atheris(
    harness: Harness, count: int, max_len: int, work_dir: Path, finish: Callable[[], int]
) -> None:
    """libFuzzer ends the process with exit(), past Python's cleanup: so the harness stops
    it itself after count inputs, once the summary is printed and the store closed."""
    import atheris  # type: ignore[import-not-found,import-untyped,unused-ignore]  # noqa: PLC0415

    corpus_dir = work_dir / "corpus"
    corpus_dir.mkdir()
    for index, data in enumerate(harness.target.seeds()):
        (corpus_dir / f"seed-{index}").write_bytes(data[:max_len])
    atheris.instrument_all()

    def one_input(data: bytes) -> None:
        harness.run(data)
        if harness.summary.inputs >= count:
            code = finish()
            sys.stdout.flush()
            os._exit(code)

    argv = [sys.argv[0], f"-max_len={max_len}", "-rss_limit_mb=4096", "-print_final_stats=0"]
    atheris.Setup([*argv, str(corpus_dir)], one_input)
    atheris.Fuzz()


def main(argv: list[str] | None = None) -> int:
    names = list(targets())
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--target", required=True, choices=[*names, "all"])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--engine", choices=["mutate", "atheris"], default="mutate")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--max-len", type=int, default=1 << 20, help="cap on mutated inputs")
    parser.add_argument("--store", action="store_true", help="also feed a real receiver+store")
    parser.add_argument("--crashes", type=Path, help="folder for one input per crash type")
    args = parser.parse_args(argv)
    chosen = names if args.target == "all" else [args.target]
    if args.engine == "atheris" and len(chosen) > 1:
        parser.error("the atheris engine runs one target per process")
    failed = False
    for name in chosen:
        failed = run_target(name, args) or failed
    return 1 if failed else 0


def run_target(name: str, args: argparse.Namespace) -> bool:
    """Fuzz one target, print its summary line; True when it crashed or stored anything."""
    summary = Summary(name, args.engine)
    harness = Harness(targets()[name], summary, args.crashes)
    with tempfile.TemporaryDirectory(prefix="blg-fuzz-") as work:
        if args.store and name in ("open_envelope", "federation_batch"):
            harness.receiver = StoreCheck(Path(work))
        started = time.monotonic()

        def finish() -> int:
            summary.seconds = time.monotonic() - started
            if harness.receiver is not None:
                summary.stored = harness.receiver.stored()
                harness.receiver.close()
                harness.receiver = None
            print(summary.line(), flush=True)
            return 1 if summary.crashes or summary.stored else 0

        try:
            if args.engine == "atheris":
                max_len = min(args.max_len, harness.target.max_len)
                run_atheris(harness, args.count, max_len, Path(work), finish)
            else:
                run_mutate(harness, args.count, args.seed, args.max_len)
        finally:
            code = finish()
    return code != 0


if __name__ == "__main__":
    raise SystemExit(main())
