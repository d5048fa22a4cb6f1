-- What waits for each peer and since when, read from the index alone: `gateway status`, the
-- console's operator page and every /metrics scrape count a peer's queued messages and find
-- the oldest. Over a backlog of 1,000,000 rows that took over a second scanning the table;
-- with this index it is an index-only scan (bench/status.py).
CREATE INDEX outbox_pending_age ON outbox (recipient, queued_at) WHERE state IN ('queued', 'sending');
