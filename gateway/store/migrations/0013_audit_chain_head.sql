-- The audit chain's lock and head in one round trip (issue 10, group commit).
--
-- An appender must read the head only after it holds the chain's lock, or two appenders
-- would chain to the same entry. In READ COMMITTED a statement reads from the snapshot taken
-- when it starts, so `SELECT lock, head` in one statement could read a head older than the
-- lock; a VOLATILE function instead takes a fresh snapshot for each statement it runs, so
-- the SELECT below sees every appender that committed before the lock was granted. One
-- round trip fewer while the lock is held, for every appender (enqueue, delivery, receiving).
CREATE FUNCTION audit_chain_head(OUT seq bigint, OUT hash bytea)
RETURNS SETOF record LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('blg.audit'));
    RETURN QUERY SELECT a.seq, a.hash FROM audit_log a ORDER BY a.seq DESC LIMIT 1;
END
$$;
