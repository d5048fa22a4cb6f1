"""Benchmark: a 100 MiB attachment encrypted and decrypted as a stream.

Run by hand (`.venv/bin/python bench/attachment.py`); results go in the README with the
machine they ran on. Target: peak resident memory of the whole process under 64 MiB while
a 100 MiB attachment makes the round trip, i.e. memory does not grow with attachment size.
The process's peak RSS (ru_maxrss) includes the interpreter and libraries, so the figure is
an upper bound on what the attachment path itself costs.
"""

from __future__ import annotations

import argparse
import hashlib
import resource
import tempfile
import time
from pathlib import Path

from gateway.crypto import decrypt_attachment, encrypt_attachment

MIB = 1024 * 1024


class PatternSource:
    """size bytes produced on demand, so the source itself holds no memory."""

    def __init__(self, size: int) -> None:
        self.left = size
        self.block = hashlib.sha512(b"bench").digest() * 4096

    def read(self, size: int = -1, /) -> bytes:
        n = min(self.left, len(self.block) if size < 0 else size, len(self.block))
        self.left -= n
        return self.block[:n]


class HashingSink:
    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes, /) -> int:
        self.digest.update(data)
        self.size += len(data)
        return len(data)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mib", type=int, default=100, help="attachment size in MiB")
    size = parser.parse_args().mib * MIB
    baseline = peak_rss_mib()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "attachment.enc"
        started = time.perf_counter()
        with path.open("wb") as out:
            key = encrypt_attachment(
                PatternSource(size), out, attachment_id="att-bench", media_type="image/tiff"
            )
        encrypted = time.perf_counter()
        sink = HashingSink()
        with path.open("rb") as src:
            decrypt_attachment(src, sink, key)
        decrypted = time.perf_counter()
    assert sink.size == size
    peak = peak_rss_mib()
    enc_s, dec_s = encrypted - started, decrypted - encrypted
    print(f"attachment size        {size / MIB:.0f} MiB")
    print(f"encrypt                {enc_s:.2f} s ({size / MIB / enc_s:.0f} MiB/s)")
    print(f"decrypt + verify       {dec_s:.2f} s ({size / MIB / dec_s:.0f} MiB/s)")
    print(f"peak RSS before        {baseline:.1f} MiB")
    print(f"peak RSS whole process {peak:.1f} MiB (target < 64 MiB)")
    if peak >= 64:
        raise SystemExit("peak memory target missed")


if __name__ == "__main__":
    main()
