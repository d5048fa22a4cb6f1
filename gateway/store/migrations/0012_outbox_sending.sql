-- The messages in flight, by message id: a sender's finish (outbox_finish_many) and release
-- find a batch's rows WHERE message_id = ... AND state = 'sending'. With a large history in
-- the outbox, statistics from a quiet period (no pending rows, and autovacuum re-analyses a
-- 10 M-row table only after 1 M changes) make the planner read them through
-- outbox_pending_age instead, i.e. every queued row of the backlog, for every batch: with
-- 1 M delivered rows it took 15.5 ms per batch of 100 at 20,000 pending and 277 ms at
-- 200,000 (3.4 ms without the history). This index holds only the rows in flight (a few
-- batches), so the planner takes it whatever the statistics say: 1.9 ms in both cases
-- (found by bench.exchange's history phase; the EXPLAIN ANALYZE figures are in bench/README.md).
CREATE INDEX outbox_sending ON outbox (message_id) WHERE state = 'sending';
