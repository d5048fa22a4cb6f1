"""Delivery into local systems, and outgoing drop folders.

Incoming messages are pushed to each subscribed local client in its own format, through the
target its config names (`type: webhook` or `type: drop_folder`), in arrival order, one at a
time, retried with capped backoff until the target takes them. Which messages await which
client lives in PostgreSQL (rows written in the same transaction as the inbox entry), so a
crash loses nothing; one process per client delivers (a session advisory lock).

None is delivered twice:
- a drop folder gets the document under a temporary name first (created 0600, O_EXCL,
  never through a symlink); the final name (`<kind>-<sender>-<message id>.<ext>`: message
  ids are the sender's, two peers may reuse one) is recorded
  in the database, then the file is renamed (atomic), then the delivery is marked done.
  After a crash in between, the temporary file tells which side of the rename we were on:
  present, rename it; absent, the rename happened (and the system may already have taken the
  file), so nothing is written again;
- a webhook gets an `Idempotency-Key` (`<sender>:<message id>`, covered by the HMAC
  signature with the timestamp and body): an HTTP answer lost in a crash makes
  the gateway ask again, and the receiving system must treat a repeated key as the same
  message. That is the one duty this product puts on a local system, and the only way any
  HTTP push can be exactly-once.

A message no retry can render for the client is held aside and the feed goes on (see
worker.py).

Outgoing drop folders (the hotline's CSV exports) are watched: each file's good records are
queued and the file recorded (by SHA-256) in one transaction, bad records are listed in a
`<file>.errors` file beside it, and the file moves to `done/`.
"""

from __future__ import annotations
