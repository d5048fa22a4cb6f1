"""Console passwords: Argon2id hashes through libsodium (PyNaCl's `nacl.pwhash.argon2id`).

Why Argon2id: it is memory-hard (a guessing rig pays for memory per guess, not only for
cores, which blunts GPUs and ASICs), its id variant resists both side channels and
time-memory trade-offs, and it is the first choice of RFC 9106 and of OWASP's password
storage guidance. libsodium is already the gateway's one crypto library, so this adds no
dependency, and its `str` format ($argon2id$v=19$m=...,t=...,p=1$salt$hash) carries the
parameters and a random salt, so hashes made with older limits keep verifying after the
limits below are raised.

Why these limits: 64 MiB and 3 passes is RFC 9106's second recommended setting (the first
wants 2 GiB, too much for a border office's small server), with one lane as libsodium
computes it. On the project's 2-core reference machine a hash takes about 70 ms: invisible
at a sign-in, yet a guesser with the hash table gets about 15 guesses per second per core.
Memory is the limit that matters for a flood: the console bounds concurrent hashes
(gateway.console.accounts), so the worst case is that bound times MEMLIMIT.

These calls are CPU-bound and release the GIL; callers run them in a thread, never on the
event loop.
"""

from __future__ import annotations

from nacl import exceptions as nacl_exceptions
from nacl.pwhash import argon2id

OPSLIMIT = 3
MEMLIMIT = 64 * 1024 * 1024


def hash_password(password: str) -> str:
    """A self-describing Argon2id hash of the password, with a fresh random salt."""
    hashed: bytes = argon2id.str(password.encode("utf-8"), opslimit=OPSLIMIT, memlimit=MEMLIMIT)
    return hashed.decode("ascii")


def password_matches(password_hash: str, password: str) -> bool:
    """Whether password is the one hashed; False for a malformed hash, never an exception."""
    try:
        return bool(argon2id.verify(password_hash.encode("ascii"), password.encode("utf-8")))
    except (nacl_exceptions.CryptoError, ValueError):
        return False
