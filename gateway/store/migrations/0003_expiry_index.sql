-- Expiring queued messages must not scan every delivered row kept for retention.
CREATE INDEX outbox_queued_expiry ON outbox (recipient, expires_at) WHERE state = 'queued';
