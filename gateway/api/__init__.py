"""The local API under /api/v1/: how police systems push and pull in their own formats.

A system POSTs a native document (its format chosen by Content-Type or `?format=`) and gets
`202` with the message ids once they are durably queued; it asks for a message's state by
id; it pulls incoming messages in its own format with a cursor. Each system authenticates
with a bearer token whose SHA-256 is in the node's config, and may use only the formats and
kinds configured for it.

Errors are JSON `{"error": {"code", "message", "problems"?}}` with a stable machine-readable
code; problems name the place in the document and what was expected, never the value. A
document with any bad record queues nothing (a drop folder, by contrast, sends the good
rows and reports the bad ones: there is nobody waiting for an answer).
"""

from __future__ import annotations
