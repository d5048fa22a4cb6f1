"""Federation: moving sealed envelopes between gateways over HTTPS.

Sending (sender.py) follows the shape of Synapse's federation sender: one `DestinationQueue`
per peer, one request in flight to each, batches taken oldest first from the PostgreSQL
outbox, exponential backoff with jitter stored in the database so that a restart neither
forgets a peer is down nor hammers it. A response's receipts are verified before any message
is marked delivered; 4xx answers end the messages of that batch (rejected), 5xx, 408, 429 and
network errors put them back in the queue.

Receiving (receiver.py, server.py) refuses what it can before reading the body (unknown
sender, wrong media type, too large, over the request or envelope rate limit), counts the
envelopes as the body arrives and refuses a batch of too many (batch.py), then verifies each
envelope on a thread pool, off the event loop, deduplicates it on (sender, message id), and
stores it with its signed receipt in one transaction before answering. A replay gets the
stored receipt back, so a sender that lost our answer can ask again as often as it likes:
that, plus the outbox, is how a message reaches its peer exactly once as far as anyone can
see.
"""

from __future__ import annotations
