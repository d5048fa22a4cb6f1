-- Every SQL statement of the gateway, by name. gateway/store/queries.py loads this file;
-- nothing outside gateway/store writes SQL.

-- name: migrations_lock
SELECT pg_advisory_xact_lock(hashtext('blg.migrations'));

-- name: migrations_table
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);

-- name: migrations_applied
SELECT version FROM schema_migrations ORDER BY version;

-- name: migration_record
INSERT INTO schema_migrations (version, name) VALUES ($1, $2);

-- name: outbox_insert
INSERT INTO outbox (message_id, recipient, case_id, kind, handling, sender_reference,
                    local_client, envelope, envelope_sha256, expires_at, queued_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11);

-- name: outbox_notify
SELECT pg_notify('blg_outbox', $1);

-- name: inbox_notify
SELECT pg_notify('blg_inbox', $1);

-- name: outbox_reset_sending
UPDATE outbox SET state = 'queued', claimed_by = NULL, claimed_at = NULL
WHERE recipient = $1 AND state = 'sending';

-- name: outbox_expire_due
UPDATE outbox SET state = 'expired', finished_at = $2, last_error = 'expired before delivery'
WHERE recipient = $1 AND state = 'queued' AND expires_at <= $2
RETURNING message_id;

-- name: outbox_release
UPDATE outbox
SET state = 'queued', last_error = COALESCE($2, last_error), claimed_by = NULL, claimed_at = NULL
WHERE message_id = ANY($1::uuid[]) AND state = 'sending';

-- name: outbox_release_invalid
UPDATE outbox
SET state = CASE WHEN invalid_receipts + 1 >= $3::integer THEN 'dead'::outbox_state
                 ELSE 'queued'::outbox_state END,
    invalid_receipts = invalid_receipts + 1,
    last_error = $2, claimed_by = NULL, claimed_at = NULL,
    -- Typed: a parameter that only appears beside NULL in a CASE is inferred as text.
    finished_at = CASE WHEN invalid_receipts + 1 >= $3::integer THEN $4::timestamptz
                       ELSE NULL END
WHERE message_id = ANY($1::uuid[]) AND state = 'sending'
RETURNING message_id, state::text AS state;

-- name: outbox_finish
UPDATE outbox
SET state = $2::outbox_state, last_error = $3, finished_at = $4, claimed_by = NULL
WHERE message_id = $1 AND state = 'sending'
RETURNING id;

-- name: outbox_pending_count
SELECT count(*) FROM outbox WHERE recipient = $1 AND state IN ('queued', 'sending');


-- name: destination_get
SELECT peer, failures, retry_at, last_error, last_success_at, last_failure_at
FROM destinations WHERE peer = $1;

-- name: destination_failure
INSERT INTO destinations (peer, failures, retry_at, last_error, last_failure_at)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (peer) DO UPDATE
SET failures = $2, retry_at = $3, last_error = $4, last_failure_at = $5;

-- name: destination_success
INSERT INTO destinations (peer, failures, retry_at, last_success_at)
VALUES ($1, 0, '-infinity', $2)
ON CONFLICT (peer) DO UPDATE
SET failures = 0, retry_at = '-infinity', last_error = NULL, last_success_at = $2;

-- name: destination_try_lock
SELECT pg_try_advisory_lock(hashtext('blg.destination'), hashtext($1));

-- name: destination_unlock
SELECT pg_advisory_unlock(hashtext('blg.destination'), hashtext($1));

-- name: inbox_find
SELECT envelope_sha256, receipt FROM inbox WHERE sender = $1 AND message_id = $2;


-- name: audit_head
-- Takes the chain's lock (held until commit), then reads the head: migration 0013.
SELECT seq, hash FROM audit_chain_head();

-- name: audit_insert
-- Every entry of a transaction in one statement (a group commit chains dozens).
INSERT INTO audit_log (seq, at, actor, action, subject, detail, prev_hash, hash)
SELECT e.seq, $2, e.actor, e.action, e.subject, e.detail::jsonb, e.prev_hash, e.hash
FROM unnest($1::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bytea[],
            $8::bytea[]) AS e(seq, actor, action, subject, detail, prev_hash, hash);

-- name: audit_scan
SELECT seq, at, actor, action, subject, detail::text AS detail, prev_hash, hash
FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2;

-- name: outbox_list
SELECT o.message_id, o.recipient, o.case_id, o.kind, o.handling, o.sender_reference,
       o.state::text AS state, o.attempts, o.last_error, o.queued_at, o.expires_at,
       o.finished_at, r.received_at AS receipt_received_at, o.local_client
FROM outbox o LEFT JOIN receipts r USING (message_id)
WHERE ($1::text IS NULL OR o.state::text = $1) AND ($2::text IS NULL OR o.recipient = $2)
ORDER BY o.id DESC
LIMIT $3;

-- name: outbox_get
SELECT o.message_id, o.recipient, o.case_id, o.kind, o.handling, o.sender_reference,
       o.state::text AS state, o.attempts, o.last_error, o.queued_at, o.expires_at,
       o.finished_at, r.received_at AS receipt_received_at, o.local_client, o.envelope,
       r.receipt
FROM outbox o LEFT JOIN receipts r USING (message_id)
WHERE o.message_id = $1;

-- name: outbox_requeue
UPDATE outbox
SET state = 'queued', last_error = NULL, claimed_by = NULL, finished_at = NULL,
    invalid_receipts = 0
WHERE message_id = $1 AND state IN ('rejected', 'dead') AND envelope IS NOT NULL
RETURNING recipient;

-- name: inbox_list
SELECT id, sender, message_id, case_id, kind, created_at, received_at
FROM inbox
WHERE ($1::text IS NULL OR sender = $1)
ORDER BY id DESC
LIMIT $2;

-- name: inbox_get
SELECT id, sender, message_id, case_id, kind, created_at, received_at, envelope
FROM inbox WHERE message_id = $1;

-- name: peer_summary
-- Per peer, a count and a minimum over the partial index outbox_pending_age (index only):
-- a join and GROUP BY here made the planner scan the whole table under a large backlog.
SELECT p.peer, q.pending, q.oldest_pending,
       d.failures, d.retry_at, d.last_error, d.last_success_at, d.last_failure_at
FROM unnest($1::text[]) AS p(peer)
CROSS JOIN LATERAL (
    SELECT count(*) AS pending, min(o.queued_at) AS oldest_pending
    FROM outbox o
    WHERE o.recipient = p.peer AND o.state IN ('queued', 'sending')
) AS q
LEFT JOIN destinations d ON d.peer = p.peer
ORDER BY p.peer;

-- name: outbox_state_counts
SELECT recipient, state::text AS state, count(*) AS n FROM outbox GROUP BY recipient, state;

-- name: audit_list
SELECT seq, at, actor, action, subject, detail::text AS detail
FROM audit_log ORDER BY seq DESC LIMIT $1;

-- name: inbox_after
SELECT id, sender, message_id, case_id, kind, created_at, received_at, envelope
FROM inbox
WHERE id > $1 AND kind = ANY($2::text[])
ORDER BY id
LIMIT $3;


-- name: local_delivery_next
SELECT d.id, d.inbox_id, d.state::text AS state, d.attempts, d.file_name, i.sender,
       i.message_id, i.case_id, i.kind, i.envelope,
       EXISTS (SELECT 1 FROM cases_cancelled c WHERE c.sender = i.sender
               AND c.case_id = i.case_id) AS case_cancelled
FROM local_deliveries d JOIN inbox i ON i.id = d.inbox_id
WHERE d.client = $1 AND d.state IN ('pending', 'delivering')
ORDER BY d.id
LIMIT $2;

-- name: local_delivery_mark_delivering
UPDATE local_deliveries SET state = 'delivering', file_name = $2
WHERE id = $1 AND state IN ('pending', 'delivering');

-- name: local_delivery_mark_delivered
UPDATE local_deliveries SET state = 'delivered', delivered_at = $2, last_error = NULL,
       attempts = attempts + 1
WHERE id = $1 AND state <> 'delivered'
RETURNING inbox_id;

-- name: local_delivery_mark_failed
UPDATE local_deliveries SET attempts = attempts + 1, last_error = $2
WHERE id = $1 AND state <> 'delivered';

-- name: local_delivery_try_lock
SELECT pg_try_advisory_lock(hashtext('blg.local-delivery'), hashtext($1));

-- name: local_delivery_unlock
SELECT pg_advisory_unlock(hashtext('blg.local-delivery'), hashtext($1));

-- name: dropped_file_find
SELECT messages, rejected FROM dropped_files WHERE client = $1 AND sha256 = $2;

-- name: dropped_file_insert
INSERT INTO dropped_files (client, sha256, file_name, messages, rejected)
VALUES ($1, $2, $3, $4, $5);

-- name: outbox_finish_many
UPDATE outbox o
SET state = u.state::outbox_state, last_error = u.error, finished_at = $4, claimed_by = NULL
FROM unnest($1::uuid[], $2::text[], $3::text[]) AS u(message_id, state, error)
WHERE o.message_id = u.message_id AND o.state = 'sending'
RETURNING o.message_id;

-- name: receipt_insert_many
INSERT INTO receipts (message_id, receipt, accepted, reason_code, received_at)
SELECT * FROM unnest($1::uuid[], $2::bytea[], $3::boolean[], $4::text[], $5::timestamptz[])
ON CONFLICT (message_id) DO UPDATE
SET receipt = EXCLUDED.receipt, accepted = EXCLUDED.accepted,
    reason_code = EXCLUDED.reason_code, received_at = EXCLUDED.received_at, stored_at = now();

-- name: inbox_find_many
SELECT message_id, envelope_sha256, receipt
FROM inbox WHERE sender = $1 AND message_id = ANY($2::uuid[]);

-- name: inbox_insert_many
INSERT INTO inbox (sender, message_id, case_id, kind, envelope, envelope_sha256, receipt,
                   created_at, received_at, handling)
SELECT * FROM unnest($1::text[], $2::uuid[], $3::uuid[], $4::text[], $5::bytea[], $6::bytea[],
                     $7::bytea[], $8::timestamptz[], $9::timestamptz[], $10::text[])
ON CONFLICT (sender, message_id) DO NOTHING
RETURNING id, sender, message_id;

-- name: local_delivery_insert_many
INSERT INTO local_deliveries (client, inbox_id)
SELECT * FROM unnest($1::text[], $2::bigint[])
ON CONFLICT (client, inbox_id) DO NOTHING;

-- name: case_reference_find
-- Several callers' lookups in one statement (see Store.case_for_reference).
SELECT r.kind, r.reference, r.case_id
FROM case_references r
JOIN unnest($1::text[], $2::text[]) AS q(kind, reference) USING (kind, reference);


-- name: local_delivery_hold
UPDATE local_deliveries
SET state = 'held', held_reason = $2, held_at = $3, last_error = $2, attempts = attempts + 1
WHERE id = $1 AND state = 'pending'
RETURNING id;

-- name: local_delivery_list
SELECT d.id, d.client, d.state::text AS state, d.attempts, d.last_error, d.held_reason,
       d.held_at, d.created_at, d.delivered_at, i.sender, i.message_id, i.kind
FROM local_deliveries d JOIN inbox i ON i.id = d.inbox_id
WHERE ($1::text IS NULL OR d.client = $1) AND ($2::text IS NULL OR d.state::text = $2)
ORDER BY d.id DESC
LIMIT $3;

-- name: local_delivery_requeue
UPDATE local_deliveries d
SET state = 'pending', held_reason = NULL, held_at = NULL, last_error = NULL
FROM inbox i
WHERE i.id = d.inbox_id AND d.state = 'held'
  AND ($1::text IS NULL OR d.client = $1)
  AND ($2::bigint[] IS NULL OR d.id = ANY($2::bigint[]))
RETURNING d.id, d.client, i.sender, i.message_id;

-- name: local_client_summary
SELECT c.client,
       count(d.id) FILTER (WHERE d.state IN ('pending', 'delivering')) AS backlog,
       min(d.created_at) FILTER (WHERE d.state IN ('pending', 'delivering')) AS oldest,
       coalesce(max(d.attempts) FILTER (WHERE d.state IN ('pending', 'delivering')), 0)
           AS head_attempts,
       count(d.id) FILTER (WHERE d.state = 'held') AS held
FROM unnest($1::text[]) AS c(client)
LEFT JOIN local_deliveries d ON d.client = c.client AND d.state <> 'delivered'
GROUP BY c.client
ORDER BY c.client;


-- console: compose (drafts awaiting a second person's approval; see 0007_console_drafts.sql)

-- name: draft_insert
INSERT INTO drafts (case_id, kind, recipients, composed_by, composed_at, key_id,
                    sealed_message)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING id;

-- name: draft_get
SELECT d.id, d.case_id, d.kind, d.recipients, d.composed_by, d.composed_at,
       d.state::text AS state, d.decided_by, d.decided_at, d.message_ids,
       c.name AS composed_by_name, a.name AS decided_by_name, d.key_id,
       d.sealed_message
FROM drafts d
LEFT JOIN console_users c ON c.id = d.composed_by
LEFT JOIN console_users a ON a.id = d.decided_by
WHERE d.id = $1;

-- name: draft_list_case
SELECT d.id, d.case_id, d.kind, d.recipients, d.composed_by, d.composed_at,
       d.state::text AS state, d.decided_by, d.decided_at, d.message_ids,
       c.name AS composed_by_name, a.name AS decided_by_name
FROM drafts d
LEFT JOIN console_users c ON c.id = d.composed_by
LEFT JOIN console_users a ON a.id = d.decided_by
WHERE d.case_id = $1
ORDER BY d.id;

-- name: draft_list_awaiting
SELECT d.id, d.case_id, d.kind, d.recipients, d.composed_by, d.composed_at,
       d.state::text AS state, d.decided_by, d.decided_at, d.message_ids,
       c.name AS composed_by_name, a.name AS decided_by_name
FROM drafts d
LEFT JOIN console_users c ON c.id = d.composed_by
LEFT JOIN console_users a ON a.id = d.decided_by
WHERE d.state = 'awaiting_approval'
ORDER BY d.id;

-- name: draft_approve
UPDATE drafts
SET state = 'approved', decided_by = $2, decided_at = $3, message_ids = $4
WHERE id = $1 AND state = 'awaiting_approval' AND composed_by <> $2
RETURNING id;

-- name: draft_withdraw
UPDATE drafts
SET state = 'withdrawn', decided_by = $2, decided_at = $3
WHERE id = $1 AND state = 'awaiting_approval' AND (composed_by = $2 OR $4::boolean)
RETURNING id, case_id, kind, recipients, composed_by;

-- name: case_latest_incoming
SELECT id, sender, message_id, case_id, kind, created_at, received_at, envelope
FROM inbox
WHERE case_id = $1
ORDER BY received_at DESC, id DESC
LIMIT 1;
-- console: auth

-- name: console_user_insert
INSERT INTO console_users (name, role, language, password_hash, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $5)
ON CONFLICT (name) DO NOTHING
RETURNING id;

-- name: console_user_list
SELECT id, name, role::text AS role, language, disabled, failed_signins, locked_until, created_at
FROM console_users
ORDER BY name;

-- name: console_user_for_sign_in
-- The row stays locked until the attempt's outcome is written: attempts on one account are
-- judged one after the other, so concurrent guesses cannot outrun the lock-out.
SELECT id, name, role::text AS role, language, password_hash, disabled, locked_until
FROM console_users
WHERE name = $1
FOR UPDATE;

-- name: console_user_sign_in_failed
-- The failure that reaches the limit locks the account and starts a new count.
UPDATE console_users SET
    failed_signins = CASE WHEN failed_signins + 1 >= $3 THEN 0 ELSE failed_signins + 1 END,
    locked_until = CASE WHEN failed_signins + 1 >= $3 THEN $2 + $4::interval ELSE locked_until END,
    updated_at = $2
WHERE id = $1
RETURNING locked_until, coalesce(locked_until > $2, false) AS locked;

-- name: console_user_signed_in
UPDATE console_users SET failed_signins = 0, updated_at = $2 WHERE id = $1;

-- name: console_user_disable
UPDATE console_users SET disabled = true, updated_at = $2
WHERE name = $1 AND NOT disabled
RETURNING id;

-- name: console_user_find
SELECT id, name, role::text AS role, language, disabled, failed_signins, locked_until, created_at
FROM console_users
WHERE name = $1;

-- name: console_user_set_password
-- A new password also lifts a lock-out: it is how an administrator lets a locked-out user in.
UPDATE console_users SET password_hash = $2, failed_signins = 0, locked_until = NULL,
    updated_at = $3
WHERE name = $1
RETURNING id;

-- name: console_sessions_end_others
WITH gone AS (
    DELETE FROM console_sessions WHERE user_id = $1 AND id_sha256 IS DISTINCT FROM $2
    RETURNING 1
)
SELECT count(*) FROM gone;

-- name: console_session_insert
INSERT INTO console_sessions (id_sha256, user_id, csrf_token, created_at, last_seen_at, expires_at)
VALUES ($1, $2, $3, $4, $4, $5);

-- name: console_sessions_purge
DELETE FROM console_sessions WHERE expires_at <= $1 OR last_seen_at <= $1 - $2::interval;

-- name: console_session_touch
-- A session counts only while its user is enabled, before its absolute end and within the
-- idle timeout; each use moves the idle end.
UPDATE console_sessions s SET last_seen_at = $2
FROM console_users u
WHERE s.id_sha256 = $1 AND u.id = s.user_id AND NOT u.disabled
  AND s.expires_at > $2 AND s.last_seen_at > $2 - $3::interval
RETURNING u.id, u.name, u.role::text AS role, u.language, s.csrf_token;

-- name: console_session_delete
DELETE FROM console_sessions WHERE id_sha256 = $1 RETURNING user_id;

-- console: cases
-- A case is every outbox row (one per recipient), inbox row and unsent draft (compose's
-- table) sharing a case_id. Its state is that of its latest message ('received' for an
-- incoming one, the draft's state for a draft); peers are everyone it was exchanged with.
-- Pages are bounded by the caller (at most 100 cases).

-- name: case_list
WITH messages AS (
    SELECT case_id, kind, recipient AS peer, state::text AS state, queued_at AS at,
           'out' AS direction, id AS row_id
    FROM outbox
    -- Messages only: control envelopes (key announcements, acknowledgements) are no case's.
    WHERE kind IN ('wanted_person_notice', 'victim_handover', 'hotline_alert')
    UNION ALL
    SELECT case_id, kind, sender, 'received', received_at, 'in', id
    FROM inbox
    UNION ALL
    -- Drafts not (yet) sent: an approved one is in the outbox already.
    SELECT case_id, kind, unnest(recipients), state::text, composed_at, 'draft', id
    FROM drafts
    WHERE state <> 'approved'
), cases AS (
    SELECT case_id,
           max(at) AS last_at,
           min(at) AS first_at,
           array_agg(DISTINCT kind ORDER BY kind) AS kinds,
           array_agg(DISTINCT peer ORDER BY peer) AS peers,
           count(*) FILTER (WHERE direction = 'out') AS sent,
           count(*) FILTER (WHERE direction = 'in') AS received,
           count(DISTINCT row_id) FILTER (WHERE direction = 'draft') AS drafts,
           (array_agg(state ORDER BY at DESC, direction, row_id DESC))[1] AS latest_state,
           (array_agg(direction ORDER BY at DESC, direction, row_id DESC))[1] AS latest_direction,
           (array_agg(row_id ORDER BY at DESC, direction, row_id DESC))[1] AS latest_row
    FROM messages
    GROUP BY case_id
)
SELECT case_id, last_at, first_at, kinds, peers, sent, received, drafts, latest_state,
       latest_direction, latest_row, count(*) OVER () AS total
FROM cases
WHERE ($1::text IS NULL OR $1 = ANY (kinds))
  AND ($2::text IS NULL OR $2 = ANY (peers))
  AND ($3::text IS NULL OR latest_state = $3)
ORDER BY last_at DESC, case_id DESC
LIMIT $4 OFFSET $5;

-- name: case_envelopes
SELECT 'out' AS direction, id AS row_id, envelope FROM outbox
WHERE id = ANY ($1::bigint[]) AND envelope IS NOT NULL
UNION ALL
SELECT 'in', id, envelope FROM inbox WHERE id = ANY ($2::bigint[]) AND envelope IS NOT NULL;

-- name: case_thread
SELECT 'out' AS direction, o.id AS row_id, o.message_id, o.recipient AS peer, o.kind,
       o.handling, o.state::text AS state, o.queued_at AS at, o.queued_at,
       r.received_at AS receipt_at, r.accepted AS receipt_accepted,
       NULL::timestamptz AS received_at, o.envelope
FROM outbox o LEFT JOIN receipts r USING (message_id)
WHERE o.case_id = $1
  -- Control envelopes of the case (acknowledgements) are shown with the message they
  -- concern, not as messages of their own.
  AND o.kind IN ('wanted_person_notice', 'victim_handover', 'hotline_alert')
UNION ALL
SELECT 'in', i.id, i.message_id, i.sender, i.kind, i.handling, 'received', i.received_at,
       i.created_at, NULL, NULL, i.received_at, i.envelope
FROM inbox i
WHERE i.case_id = $1
ORDER BY at, direction DESC, row_id
LIMIT $2;

-- name: case_of_message
-- Our own message first; then the earliest-received incoming one (message ids are the
-- sender's: two peers could use the same one).
SELECT case_id FROM (
    SELECT case_id, 0 AS rank, queued_at AS at FROM outbox WHERE message_id = $1
    UNION ALL
    SELECT case_id, 1, received_at FROM inbox WHERE message_id = $1
) found
ORDER BY rank, at
LIMIT 1;

-- console: rotate (key rollover, 0011_peer_key_announcements.sql)

-- name: key_announcement_find_many
SELECT message_id, envelope_sha256, receipt
FROM peer_key_announcements WHERE sender = $1 AND message_id = ANY($2::uuid[]);

-- name: key_announcement_insert
INSERT INTO peer_key_announcements (sender, message_id, envelope_sha256, receipt, signed_by,
                                    created_at, received_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (sender, message_id) DO NOTHING
RETURNING message_id;

-- name: key_announcement_get
SELECT envelope_sha256, receipt FROM peer_key_announcements WHERE sender = $1 AND message_id = $2;

-- name: peer_key_record
-- A new key id is recorded as it came; a known one keeps its public keys and only ever
-- shrinks its window (the trigger refuses anything else). The caller has refused an
-- announcement naming a known key id with other public keys.
INSERT INTO peer_keys_recorded AS k (peer, key_id, signing_public, encryption_public,
                                     valid_from, valid_until, source, announcement, recorded_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (peer, key_id) DO UPDATE
SET valid_until = least(k.valid_until, EXCLUDED.valid_until)
WHERE k.signing_public = EXCLUDED.signing_public
  AND k.encryption_public = EXCLUDED.encryption_public
  AND EXCLUDED.valid_until < k.valid_until
  AND EXCLUDED.valid_until > k.valid_from
RETURNING key_id, (xmax = 0) AS inserted;

-- name: peer_keys_recorded_list
SELECT peer, key_id, signing_public, encryption_public, valid_from, valid_until, source,
       state::text AS state, recorded_at
FROM peer_keys_recorded ORDER BY peer, valid_from, key_id;

-- name: peer_keys_activate_due
UPDATE peer_keys_recorded SET state = 'active', activated_at = $1
WHERE state = 'pending' AND valid_from <= $1
RETURNING peer, key_id;

-- name: own_keys_published_list
SELECT key_id, signing_public, encryption_public, valid_from, valid_until
FROM own_keys_published;

-- name: own_keys_published_put
INSERT INTO own_keys_published (key_id, signing_public, encryption_public, valid_from,
                                valid_until, first_seen_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (key_id) DO UPDATE
SET signing_public = EXCLUDED.signing_public, encryption_public = EXCLUDED.encryption_public,
    valid_from = EXCLUDED.valid_from, valid_until = EXCLUDED.valid_until;

-- name: own_key_announcement_insert
INSERT INTO own_key_announcements (message_id, peer, new_key_ids, queued_at)
VALUES ($1, $2, $3, $4);

-- name: own_keys_withheld
-- Per peer, the new own keys announced to it of which no announcement was accepted yet. A
-- purged outbox row (retention) drops out of the join: long delivered by then.
SELECT a.peer, k.key_id
FROM own_key_announcements a
CROSS JOIN LATERAL unnest(a.new_key_ids) AS k (key_id)
JOIN outbox o ON o.message_id = a.message_id
GROUP BY a.peer, k.key_id
HAVING NOT bool_or(o.state = 'delivered');

-- console: upkeep (retention deletes content, never rows: see 0010_retention_content.sql)
-- Each statement takes one cutoff per marking: $1 normal, $2 restricted, $3 victim_protected;
-- a marking that is none of these (unknown, NULL) takes the strictest. The greatest() term
-- lets the partial index on finished rows with content narrow the scan.

-- name: retention_content_outbox
WITH gone AS (
    UPDATE outbox SET envelope = NULL
    WHERE envelope IS NOT NULL AND finished_at IS NOT NULL
      AND state IN ('delivered', 'rejected', 'expired', 'dead')
      AND finished_at < greatest($1::timestamptz, $2::timestamptz, $3::timestamptz)
      AND finished_at < CASE handling WHEN 'normal' THEN $1::timestamptz
                                      WHEN 'restricted' THEN $2::timestamptz
                                      ELSE $3::timestamptz END
    RETURNING handling
)
SELECT CASE WHEN handling IN ('normal', 'restricted') THEN handling
            ELSE 'victim_protected' END AS marking,
       count(*) AS n
FROM gone GROUP BY 1;

-- name: retention_content_outbox_due
SELECT CASE WHEN handling IN ('normal', 'restricted') THEN handling
            ELSE 'victim_protected' END AS marking,
       count(*) AS n
FROM outbox
WHERE envelope IS NOT NULL AND finished_at IS NOT NULL
  AND state IN ('delivered', 'rejected', 'expired', 'dead')
  AND finished_at < greatest($1::timestamptz, $2::timestamptz, $3::timestamptz)
  AND finished_at < CASE handling WHEN 'normal' THEN $1::timestamptz
                                  WHEN 'restricted' THEN $2::timestamptz
                                  ELSE $3::timestamptz END
GROUP BY 1;

-- An incoming message's period runs from when the last of its local clients had it (from
-- its arrival when it is for none); one still held back or pending for a client stays. A
-- delivery a cancellation withdrew (0016_cancellation.sql) is finished at its withdrawal.
-- name: retention_content_inbox
WITH due AS (
    SELECT i.id, CASE WHEN i.handling IN ('normal', 'restricted') THEN i.handling
                      ELSE 'victim_protected' END AS marking
    FROM inbox i
    WHERE i.envelope IS NOT NULL
      AND i.received_at < greatest($1::timestamptz, $2::timestamptz, $3::timestamptz)
), gone AS (
    UPDATE inbox i SET envelope = NULL
    FROM due
    WHERE i.id = due.id
      AND i.received_at < CASE due.marking WHEN 'normal' THEN $1::timestamptz
                                           WHEN 'restricted' THEN $2::timestamptz
                                           ELSE $3::timestamptz END
      AND NOT EXISTS (
          SELECT 1 FROM local_deliveries d
          WHERE d.inbox_id = i.id
            AND (d.state NOT IN ('delivered', 'withdrawn')
                 OR coalesce(d.delivered_at, d.withdrawn_at) >= CASE due.marking WHEN 'normal' THEN $1::timestamptz
                                                       WHEN 'restricted' THEN $2::timestamptz
                                                       ELSE $3::timestamptz END))
    RETURNING due.marking
)
SELECT marking, count(*) AS n FROM gone GROUP BY 1;

-- name: retention_content_inbox_due
WITH due AS (
    SELECT i.id, i.received_at,
           CASE WHEN i.handling IN ('normal', 'restricted') THEN i.handling
                ELSE 'victim_protected' END AS marking
    FROM inbox i
    WHERE i.envelope IS NOT NULL
      AND i.received_at < greatest($1::timestamptz, $2::timestamptz, $3::timestamptz)
), cut AS (
    SELECT id, received_at, marking,
           CASE marking WHEN 'normal' THEN $1::timestamptz
                        WHEN 'restricted' THEN $2::timestamptz
                        ELSE $3::timestamptz END AS cutoff
    FROM due
)
SELECT marking, count(*) AS n
FROM cut
WHERE received_at < cutoff
  AND NOT EXISTS (SELECT 1 FROM local_deliveries d
                  WHERE d.inbox_id = cut.id
                    AND (d.state NOT IN ('delivered', 'withdrawn')
                         OR coalesce(d.delivered_at, d.withdrawn_at) >= cut.cutoff))
GROUP BY 1;

-- Drafts exist for victim handovers (four eyes): their content takes the victim_protected
-- period ($1), from the approval or withdrawal. An approved draft's copies are in the outbox.
-- name: retention_content_drafts
WITH gone AS (
    UPDATE drafts SET sealed_message = NULL
    WHERE sealed_message IS NOT NULL AND state <> 'awaiting_approval' AND decided_at < $1
    RETURNING 1
)
SELECT count(*) FROM gone;

-- name: retention_content_drafts_due
SELECT count(*) FROM drafts
WHERE sealed_message IS NOT NULL AND state <> 'awaiting_approval' AND decided_at < $1;

-- Backup and restore (gateway/ops/backup.py): is the database a restore may write into empty,
-- and does anyone else use it (a node still running)?

-- name: restore_target_state
SELECT (SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = 'public') AS tables,
       (SELECT count(*) FROM pg_catalog.pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid()
          AND backend_type = 'client backend') AS sessions;

-- name: restore_target_empty
DROP SCHEMA public CASCADE;

-- name: restore_target_schema
CREATE SCHEMA public;

-- logs: the embedded server's own log file (state_dir/postgres/data/log)
-- Errors there without their DETAIL, HINT and CONTEXT (a unique or check violation quotes the
-- row's values) and without the failing statement. ALTER SYSTEM runs outside a transaction,
-- so one statement per block.

-- name: server_log_terse
ALTER SYSTEM SET log_error_verbosity = 'terse';

-- name: server_log_no_statements
ALTER SYSTEM SET log_min_error_statement = 'panic';

-- name: server_reload_config
SELECT pg_reload_conf();

-- perf: groupcommit

-- name: outbox_insert_many
-- A group commit's envelopes, their own references (case_references) and the senders'
-- wake-ups, in one statement and one round trip. Rows go in the order given (the bigserial
-- id is the queue order, so per-case order holds). NOTIFY is transactional: a worker is
-- woken only once the rows are committed.
WITH queued AS (
    INSERT INTO outbox (message_id, recipient, case_id, kind, handling, sender_reference,
                        local_client, envelope, envelope_sha256, expires_at, queued_at)
    SELECT u.message_id, u.recipient, u.case_id, u.kind, u.handling, u.sender_reference,
           u.local_client, u.envelope, u.envelope_sha256, u.expires_at, $11
    FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::text[], $6::text[],
                $7::text[], $8::bytea[], $9::bytea[], $10::timestamptz[])
         WITH ORDINALITY AS u(message_id, recipient, case_id, kind, handling,
                              sender_reference, local_client, envelope, envelope_sha256,
                              expires_at, n)
    ORDER BY u.n
    RETURNING recipient
), referenced AS (
    INSERT INTO case_references (kind, reference, case_id)
    SELECT * FROM unnest($12::text[], $13::text[], $14::uuid[])
    ON CONFLICT (kind, reference) DO NOTHING
)
SELECT pg_notify('blg_outbox', r.recipient) FROM (SELECT DISTINCT recipient FROM queued) AS r;

-- perf: pipeline

-- name: outbox_claim
-- The claim of a pipelined sender: rows of cases with a batch in flight ($5) are skipped,
-- so no message overtakes an earlier one of its case. Walks the outbox_pending partial index
-- (recipient, id), which holds only queued and sending rows: its cost does not grow with the
-- delivered history. $6 is the sender's floor: no row below it is queued, so the scan starts
-- there rather than walking the index entries that the rows delivered since the last vacuum
-- left behind (without it, a claim late in a 100,000-row drain took 20 times as long as the
-- first). skipped_from, the lowest row skipped for its case (looked for only up to the last
-- row claimed, an index range the claim walked anyway), is where the next floor must stay.
WITH claimable AS (
    SELECT id FROM outbox
    WHERE recipient = $1 AND state = 'queued' AND case_id <> ALL($5::uuid[]) AND id >= $6
    ORDER BY id
    LIMIT $2
    -- NO KEY UPDATE: the claim changes no key, and a plain FOR UPDATE would skip every row
    -- whose id another transaction references meanwhile (the FOR KEY SHARE lock that an
    -- insert into search_entries or search_indexed takes on its outbox row): the search
    -- indexer reading a new row made the sender skip it until its next poll.
    FOR NO KEY UPDATE SKIP LOCKED
), claimed AS (
    UPDATE outbox o
    SET state = 'sending', attempts = o.attempts + 1, claimed_by = $3, claimed_at = $4
    FROM claimable c
    WHERE o.id = c.id
    RETURNING o.id, o.message_id, o.case_id, o.envelope, o.envelope_sha256, o.attempts
)
-- (The guard and ORDER BY keep the planner on an index by id: with no busy case it once
-- estimated no row anyway and filtered a whole index on finished_at.)
SELECT claimed.*,
       (SELECT s.id FROM outbox s
        WHERE cardinality($5::uuid[]) > 0 AND s.recipient = $1 AND s.state = 'queued'
          AND s.id >= $6 AND s.id < (SELECT max(id) FROM claimable)
          AND s.case_id = ANY($5::uuid[])
        ORDER BY s.id LIMIT 1
       ) AS skipped_from
FROM claimed;

-- issue 11: attach
-- Attachment streams at rest (gateway.store.attachments, migration 0014). Key of a stream
-- everywhere: $1 owner, $2 direction, $3 attachment_id.

-- name: attachment_create
INSERT INTO attachments (owner, direction, attachment_id, created_at)
VALUES ($1, $2, $3, $4)
ON CONFLICT DO NOTHING;

-- name: attachment_lock
-- Serialises the appenders of one stream for the rest of the transaction.
SELECT declared_size, received_bytes, state, stream_sha256 FROM attachments
WHERE owner = $1 AND direction = $2 AND attachment_id = $3
FOR UPDATE;

-- name: attachment_get
SELECT declared_size, received_bytes, state, stream_sha256 FROM attachments
WHERE owner = $1 AND direction = $2 AND attachment_id = $3;

-- name: attachment_chunk_extend
-- Fills the stream's last, partial row; $5 is its length before, checked so that a stale
-- caller cannot write at the wrong place.
UPDATE attachment_chunks SET bytes = bytes || $6
WHERE owner = $1 AND direction = $2 AND attachment_id = $3 AND n = $4 AND length(bytes) = $5;

-- name: attachment_chunk_insert
INSERT INTO attachment_chunks (owner, direction, attachment_id, n, bytes)
VALUES ($1, $2, $3, $4, $5);

-- name: attachment_set_received
UPDATE attachments SET received_bytes = $4, declared_size = coalesce(declared_size, $5)
WHERE owner = $1 AND direction = $2 AND attachment_id = $3;

-- name: attachment_chunk_read
SELECT bytes FROM attachment_chunks
WHERE owner = $1 AND direction = $2 AND attachment_id = $3 AND n = $4;

-- name: attachment_complete
-- receiving -> complete, once every declared byte is in (the trigger and checks of 0014
-- refuse anything else).
UPDATE attachments SET state = 'complete', stream_sha256 = $4, completed_at = $5
WHERE owner = $1 AND direction = $2 AND attachment_id = $3
  AND state = 'receiving' AND received_bytes = declared_size
RETURNING state;

-- name: attachment_delete_stale
-- Uploads never finished: their rows go with them (ON DELETE CASCADE). Complete streams
-- wait for the envelope binding, which knows whether an envelope still names them.
DELETE FROM attachments WHERE state = 'receiving' AND created_at < $1;


-- issue 11: handling

-- name: onward_origins
-- What a new message of case $1 (answering message $2, if any) carries from peers: the
-- markings of the messages received from the peer that opened the case here (its first
-- message at this node was received, not sent), and the marking of the received message it
-- answers. A case this node opened has no origin: what it sends in it is its own.
WITH first_in AS (
    SELECT sender, received_at FROM inbox WHERE case_id = $1
    ORDER BY received_at, id LIMIT 1
), opened_here AS (
    SELECT 1 FROM outbox o, first_in f WHERE o.case_id = $1 AND o.queued_at < f.received_at
)
SELECT i.sender, i.handling, 'case' AS via
FROM inbox i JOIN first_in f ON f.sender = i.sender
WHERE i.case_id = $1 AND NOT EXISTS (SELECT 1 FROM opened_here)
UNION ALL
SELECT sender, handling, 'in_reply_to' AS via FROM inbox WHERE message_id = $2;

-- name: inbox_after_unprotected
-- inbox_after for a client not allowed victim-protected messages: those (and the ones whose
-- marking is unknown, read as the strictest) are never listed to it.
SELECT id, sender, message_id, case_id, kind, created_at, received_at, envelope
FROM inbox
WHERE id > $1 AND kind = ANY($2::text[])
  AND coalesce(handling, 'victim_protected') <> 'victim_protected'
ORDER BY id
LIMIT $3;


-- issue 11: attach (binding, migration 0017)

-- name: inbox_attachments_of
-- The links of inbox rows $1 (an inbox page's in one query), each row's in position order.
SELECT inbox_id, position, sender, attachment_id, media_type, plaintext_size
FROM inbox_attachments WHERE inbox_id = ANY($1::bigint[]) ORDER BY inbox_id, position;

-- name: attachment_staging_get
-- A local client's upload ($1 client, $2 id): its state, sealed key and plaintext facts.
SELECT state, received_bytes, declared_size, stream_sha256, key_id, key_sealed, media_type,
       plaintext_size, plaintext_sha256
FROM attachments WHERE owner = $1 AND direction = 'outgoing' AND attachment_id = $2;

-- name: attachment_staging_finish
-- receiving -> complete for an upload the gateway encrypted itself: the stream hash is the
-- encryptor's, and the sealed key and plaintext facts are written with it, in one statement.
UPDATE attachments SET state = 'complete', stream_sha256 = $4, completed_at = $5,
       key_id = $6, key_sealed = $7, media_type = $8, plaintext_size = $9,
       plaintext_sha256 = $10
WHERE owner = $1 AND direction = $2 AND attachment_id = $3
  AND state = 'receiving' AND received_bytes = declared_size
RETURNING state;

-- name: attachment_discard
-- An unfinished stream this node was writing itself (an upload cut off, a re-encryption
-- that failed): its rows go with it. A complete stream is never discarded here.
DELETE FROM attachments
WHERE owner = $1 AND direction = $2 AND attachment_id = $3 AND state = 'receiving';

-- name: outbox_attachments_insert
-- An enqueue's links, by message id (the outbox ids are drawn in the same statement group).
INSERT INTO outbox_attachments (outbox_id, position, recipient, attachment_id,
                                ciphertext_sha256)
SELECT o.id, u.position, o.recipient, u.attachment_id, u.sha
FROM unnest($1::uuid[], $2::int[], $3::text[], $4::bytea[])
     AS u(message_id, position, attachment_id, sha)
JOIN outbox o ON o.message_id = u.message_id;

-- name: outbox_attachments_of
-- The streams of a claimed batch ($1 outbox ids), with what the sender needs to push them.
SELECT l.outbox_id, l.position, l.recipient, l.attachment_id, l.ciphertext_sha256,
       l.pushed_at IS NOT NULL AS pushed, a.received_bytes, a.state
FROM outbox_attachments l
JOIN attachments a ON (a.owner, a.direction, a.attachment_id)
                    = (l.recipient, l.direction, l.attachment_id)
WHERE l.outbox_id = ANY($1::bigint[])
ORDER BY l.outbox_id, l.position;

-- name: outbox_attachment_pushed
UPDATE outbox_attachments SET pushed_at = $3
WHERE recipient = $1 AND attachment_id = $2 AND pushed_at IS NULL;

-- name: attachment_verify
-- complete -> verified, once the stream passed 7.3 against its AttachmentKey.
UPDATE attachments SET state = 'verified'
WHERE owner = $1 AND direction = 'incoming' AND attachment_id = $2 AND state = 'complete';

-- name: inbox_attachments_insert
INSERT INTO inbox_attachments (inbox_id, position, sender, attachment_id, media_type,
                               plaintext_size)
SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[], $4::text[], $5::text[],
                     $6::bigint[]);

-- name: attachment_delete_unreferenced
-- Streams created before $1 that no outbox or inbox row names (migration 0017): uploads
-- never sent, received streams whose envelope never came, copies of a refused submission.
-- Their rows go with them (ON DELETE CASCADE); a linked stream is never selected.
DELETE FROM attachments a
WHERE a.created_at < $1
  AND NOT EXISTS (SELECT 1 FROM outbox_attachments l
                  WHERE l.recipient = a.owner AND l.direction = a.direction
                    AND l.attachment_id = a.attachment_id)
  AND NOT EXISTS (SELECT 1 FROM inbox_attachments l
                  WHERE l.sender = a.owner AND l.direction = a.direction
                    AND l.attachment_id = a.attachment_id);

-- name: attachment_delete_sent
-- The per-recipient streams of outbox rows whose sealed content retention removed: the
-- message can no longer be sent again, so neither can its streams. Links go first, in the
-- same statement (the foreign key is checked at its end).
WITH gone AS (
    DELETE FROM outbox_attachments l USING outbox o
    WHERE o.id = l.outbox_id AND o.envelope IS NULL
    RETURNING l.recipient, l.direction, l.attachment_id
)
DELETE FROM attachments a USING gone g
WHERE a.owner = g.recipient AND a.direction = g.direction AND a.attachment_id = g.attachment_id;

-- name: attachment_pending_bytes
-- What a peer ($1) has stored here in streams no accepted envelope names yet: the bytes its
-- quota counts (declared sizes, or what came so far when none was declared).
SELECT coalesce(sum(coalesce(a.declared_size, a.received_bytes)), 0)::bigint
FROM attachments a
WHERE a.owner = $1 AND a.direction = 'incoming'
  AND NOT EXISTS (SELECT 1 FROM inbox_attachments l
                  WHERE l.sender = a.owner AND l.direction = a.direction
                    AND l.attachment_id = a.attachment_id);
-- issue 11: ack (acknowledgements with deadlines, 0015_acknowledgements.sql)

-- name: ack_deadline_insert_many
-- The deadlines of a group commit's envelopes that need an acknowledgement.
INSERT INTO acknowledgement_deadlines (message_id, peer, kind, due_at)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[]);

-- name: control_received_find_many
SELECT message_id, envelope_sha256, receipt
FROM control_received WHERE sender = $1 AND message_id = ANY($2::uuid[]);

-- name: control_received_insert
INSERT INTO control_received (sender, message_id, kind, envelope_sha256, receipt, created_at,
                              received_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (sender, message_id) DO NOTHING
RETURNING message_id;

-- name: control_received_get
SELECT envelope_sha256, receipt FROM control_received WHERE sender = $1 AND message_id = $2;

-- name: ack_sent_message
-- A message of ours ($1) that went to peer $2 in case $3: what an acknowledgement from $2
-- may acknowledge. Control envelopes are not acknowledged.
SELECT kind FROM outbox
WHERE message_id = $1 AND recipient = $2 AND case_id = $3
  AND kind IN ('wanted_person_notice', 'victim_handover', 'hotline_alert');

-- name: ack_record
-- Record the peer's acknowledgement of message $1; the first one wins (a second, or a replay
-- under another id, changes nothing). A message no rule asked to be acknowledged gets a row
-- without a deadline. Returns the row when this call recorded it.
INSERT INTO acknowledgement_deadlines AS d (message_id, peer, kind, due_at, acknowledged_at,
                                            acknowledged_by, how, acknowledgement, recorded_at)
VALUES ($1, $2, $3, NULL, $4, $5, $6::acknowledged_how, $7, $8)
ON CONFLICT (message_id) DO UPDATE
SET acknowledged_at = EXCLUDED.acknowledged_at, acknowledged_by = EXCLUDED.acknowledged_by,
    how = EXCLUDED.how, acknowledgement = EXCLUDED.acknowledgement,
    recorded_at = EXCLUDED.recorded_at
WHERE d.acknowledged_at IS NULL
RETURNING message_id;

-- name: ack_states
-- The acknowledgement state of sent messages $1, for the API and the case page.
SELECT message_id, peer, kind, due_at, acknowledged_at, acknowledged_by, how::text AS how,
       recorded_at
FROM acknowledgement_deadlines WHERE message_id = ANY($1::uuid[]);

-- name: ack_overdue_list
-- Sent messages not acknowledged by their deadline ($1 = now), oldest deadline first.
SELECT d.message_id, d.peer, d.kind, d.due_at, NULL::timestamptz AS acknowledged_at,
       NULL::text AS acknowledged_by, NULL::text AS how, NULL::timestamptz AS recorded_at,
       o.case_id
FROM acknowledgement_deadlines d JOIN outbox o USING (message_id)
WHERE d.acknowledged_at IS NULL AND d.due_at < $1
ORDER BY d.due_at, d.message_id
LIMIT $2;

-- name: ack_overdue_counts
SELECT peer, kind, count(*) AS overdue
FROM acknowledgement_deadlines
WHERE acknowledged_at IS NULL AND due_at < $1
GROUP BY peer, kind;

-- name: ack_given_get
SELECT sender, message_id, acknowledgement, acknowledged_at, acknowledged_by, how::text AS how
FROM acknowledgements_given WHERE sender = $1 AND message_id = $2;

-- name: ack_given_insert
INSERT INTO acknowledgements_given (sender, message_id, acknowledgement, acknowledged_at,
                                    acknowledged_by, how)
VALUES ($1, $2, $3, $4, $5, $6::acknowledged_how)
ON CONFLICT (sender, message_id) DO NOTHING
RETURNING sender;

-- name: ack_received_message
-- A received message to acknowledge: what the acknowledgement and the API's visibility
-- check need (never the content).
SELECT sender, message_id, case_id, kind, handling FROM inbox WHERE message_id = $1
ORDER BY id LIMIT 1;

-- name: ack_given_many
-- This node's acknowledgements of received messages $1 (the case page).
SELECT sender, message_id, acknowledgement, acknowledged_at, acknowledged_by, how::text AS how
FROM acknowledgements_given WHERE message_id = ANY($1::uuid[]);

-- issue 11: cancel

-- name: cancellation_case_recipients
-- The peers earlier messages of case $1 went to, or are going to (queued or sending), in the
-- order they were first sent to: a cancellation or update goes to each of them. Control
-- envelopes (key announcements, confirmations) are not messages of the case.
SELECT recipient FROM outbox
WHERE case_id = $1 AND kind = ANY($2::text[]) AND state IN ('queued', 'sending', 'delivered')
GROUP BY recipient
ORDER BY min(id);

-- name: cancellation_sent_insert_many
INSERT INTO cancellations_sent (message_id, recipient, case_id)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[])
ON CONFLICT (message_id) DO NOTHING;

-- name: cancellation_case_insert
-- The first cancellation of a case by its sender marks it; a later one changes nothing.
INSERT INTO cases_cancelled (sender, case_id, cancellation, cancelled_at, withdrawn)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (sender, case_id) DO NOTHING;

-- name: cancellation_withdraw
-- Local deliveries of the earlier messages of case $2 from sender $1 (inbox rows before the
-- cancellation's, $3) that have not gone out. The state is checked again on each row as it is
-- updated, after any concurrent claim by a delivery worker (local_delivery_claim) commits:
-- a row claimed first is 'delivering' and stays; a row withdrawn first is never claimed.
WITH due AS (
    SELECT d.id FROM local_deliveries d JOIN inbox i ON i.id = d.inbox_id
    WHERE i.sender = $1 AND i.case_id = $2 AND i.id < $3 AND d.state IN ('pending', 'held')
)
UPDATE local_deliveries d
SET state = 'withdrawn', withdrawn_at = $4, withdrawn_by = $5
FROM due, inbox i
WHERE d.id = due.id AND i.id = d.inbox_id AND d.state IN ('pending', 'held')
RETURNING d.id, d.client, i.message_id;

-- name: local_delivery_claim
-- A worker's claim on a delivery just before it hands the document over: from then on no
-- cancellation withdraws it. A 'delivering' row (claimed before a crash) is claimed again.
UPDATE local_deliveries SET state = 'delivering'
WHERE id = $1 AND state IN ('pending', 'delivering')
RETURNING id;

-- name: cancellation_case_lock
-- Serialises a cancellation's withdrawals with claim releases in its case (0016).
SELECT pg_advisory_xact_lock(hashtext('blg.cancel'), hashtext($1::text || '/' || $2::uuid::text));

-- name: local_delivery_case
SELECT i.sender, i.case_id FROM local_deliveries d JOIN inbox i ON i.id = d.inbox_id
WHERE d.id = $1;

-- name: local_delivery_release
-- A claim the target did not take (see 0016_cancellation.sql): pending again, or withdrawn
-- when a later message of its sender cancelled its case meanwhile.
WITH later AS (
    SELECT c.cancellation
    FROM local_deliveries d
    JOIN inbox i ON i.id = d.inbox_id
    JOIN cases_cancelled c ON c.sender = i.sender AND c.case_id = i.case_id
    JOIN inbox ci ON ci.sender = c.sender AND ci.message_id = c.cancellation
    WHERE d.id = $1 AND ci.id > i.id
)
UPDATE local_deliveries d
SET state = CASE WHEN (SELECT cancellation FROM later) IS NULL THEN 'pending'
                 ELSE 'withdrawn' END::local_delivery_state,
    withdrawn_at = CASE WHEN (SELECT cancellation FROM later) IS NULL THEN NULL
                        ELSE $2::timestamptz END,
    withdrawn_by = (SELECT cancellation FROM later)
FROM inbox i
WHERE d.id = $1 AND i.id = d.inbox_id AND d.state = 'delivering' AND d.file_name IS NULL
RETURNING d.state::text AS state, d.client, i.sender, i.message_id, d.withdrawn_by;

-- name: cancellation_confirmation_find_many
SELECT message_id, envelope_sha256, receipt
FROM cancellation_confirmations WHERE sender = $1 AND message_id = ANY($2::uuid[]);

-- name: cancellation_confirmation_insert
-- Only for a cancellation this node sent to the confirming peer ($1); nothing otherwise.
INSERT INTO cancellation_confirmations (sender, message_id, cancellation, envelope_sha256,
                                        receipt, confirmed_at, withdrawn, received_at)
SELECT $1, $2, c.message_id, $4, $5, $6, $7, $8
FROM cancellations_sent c
WHERE c.message_id = $3 AND c.recipient = $1
ON CONFLICT (sender, message_id) DO NOTHING
RETURNING message_id;

-- name: cancellation_confirmation_get
SELECT envelope_sha256, receipt FROM cancellation_confirmations
WHERE sender = $1 AND message_id = $2;

-- name: cancellation_status
-- Per copy of each cancellation of case $1: where it is, its receipt, and its first
-- confirmation (a later duplicate changes nothing).
SELECT c.message_id, c.recipient, o.state::text AS state, o.queued_at,
       r.accepted, r.reason_code, r.received_at AS receipted_at,
       f.confirmed_at, f.withdrawn, f.received_at AS confirmation_received_at
FROM cancellations_sent c
JOIN outbox o ON o.message_id = c.message_id
LEFT JOIN receipts r ON r.message_id = c.message_id
LEFT JOIN LATERAL (
    SELECT confirmed_at, withdrawn, received_at FROM cancellation_confirmations x
    WHERE x.cancellation = c.message_id ORDER BY x.received_at, x.message_id LIMIT 1
) f ON true
WHERE c.case_id = $1
ORDER BY o.id;

-- name: cancellation_cases_cancelled
SELECT sender, case_id, cancellation, cancelled_at, withdrawn
FROM cases_cancelled WHERE case_id = ANY($1::uuid[]);


-- issue 11: attachview

-- name: inbox_by_message
-- Every inbox row of one message id, oldest first: ids are chosen by senders, so two peers
-- could use one; the reader of an attachment looks in each it may see. With the marking, so
-- that the caller applies the inbox's visibility rule (inbox_after_unprotected).
SELECT id, sender, message_id, case_id, kind, created_at, received_at, handling, envelope
FROM inbox WHERE message_id = $1
ORDER BY id
LIMIT 8;


-- issue 11: composeattach

-- name: attachment_drop_staged
-- A local client's staged upload that no message will name any more (the console's files of
-- a form sent back with errors, or of a message queued: each recipient has its own copy).
-- Complete or not; never one an envelope links (those are per-recipient streams anyway).
DELETE FROM attachments a
WHERE a.owner = $1 AND a.direction = 'outgoing' AND a.attachment_id = $2
  AND NOT EXISTS (
    SELECT 1 FROM outbox_attachments l
    WHERE l.recipient = a.owner AND l.attachment_id = a.attachment_id
  );


-- issue 12: bundle

-- name: bundle_export_candidates
-- A peer's pending rows for an offline bundle, in queue order: not expired, content kept,
-- and not in a bundle still waiting for its receipts unless $3 (a lost bundle is exported
-- again). Their attachment streams come from outbox_attachments_of.
SELECT o.id, o.message_id, o.case_id, o.envelope, o.envelope_sha256, o.attempts
FROM outbox o
WHERE o.recipient = $1 AND o.state IN ('queued', 'sending') AND o.expires_at > $2
  AND o.envelope IS NOT NULL
  AND ($3::boolean OR NOT EXISTS (
      SELECT 1 FROM bundle_exports b WHERE b.message_id = o.message_id AND b.receipted_at IS NULL))
ORDER BY o.id
LIMIT $4;

-- name: bundle_export_insert
INSERT INTO bundle_exports (bundle_id, peer, message_id, exported_at)
SELECT $1, $2, m, $4 FROM unnest($3::uuid[]) AS m;

-- name: bundle_travelling
-- For each given message still pending, the newest bundle it travels in, un-receipted.
SELECT DISTINCT ON (b.message_id) b.message_id, b.bundle_id
FROM bundle_exports b JOIN outbox o USING (message_id)
WHERE b.message_id = ANY($1::uuid[]) AND b.receipted_at IS NULL
  AND o.state IN ('queued', 'sending')
ORDER BY b.message_id, b.exported_at DESC;

-- name: bundle_received_find
SELECT 1 FROM bundles_received WHERE sender = $1 AND bundle_id = $2;

-- name: bundle_received_insert
INSERT INTO bundles_received (sender, bundle_id, kind, imported_at, items, accepted, refused)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (sender, bundle_id) DO NOTHING
RETURNING bundle_id;

-- name: bundle_receipt_subjects
-- The rows sent to one peer that receipts name by message id, with their state. (A refusal
-- of an envelope whose header did not parse names none: our own envelopes always parse, so
-- such a receipt is counted as naming no message.)
SELECT o.id, o.message_id, o.envelope, o.state::text AS state
FROM outbox o
WHERE o.recipient = $1 AND o.message_id = ANY($2::uuid[]) AND o.envelope IS NOT NULL;

-- name: bundle_outbox_finish
-- Like outbox_finish_many, for receipts that came in a bundle: the row may still be queued
-- (the trigger allows that only for a row that travelled in a bundle).
UPDATE outbox o
SET state = u.state::outbox_state, last_error = u.error, finished_at = $5, claimed_by = NULL
FROM unnest($2::uuid[], $3::text[], $4::text[]) AS u(message_id, state, error)
WHERE o.message_id = u.message_id AND o.recipient = $1 AND o.state IN ('queued', 'sending')
RETURNING o.message_id;

-- name: bundle_exports_receipted
UPDATE bundle_exports SET receipted_at = $3
WHERE peer = $1 AND message_id = ANY($2::uuid[]) AND receipted_at IS NULL;

-- issue 12: checkpoint

-- name: checkpoint_last_seq
-- The newest checkpoint taken, and the chain's newest entry (no lock: a hint for when to
-- take the next checkpoint, which reads the hashes themselves).
SELECT (SELECT max(seq) FROM audit_checkpoints) AS checkpointed,
       (SELECT max(seq) FROM audit_log) AS head,
       (SELECT max(at) FROM audit_checkpoints) AS taken_at;

-- name: checkpoint_growth
-- Entries after $1 that the checkpoint exchange did not write itself (its own entries, and
-- the outbox entries of checkpoint and countersignature envelopes), counted up to $2: what
-- makes a checkpoint due early, without checkpoints causing checkpoints.
SELECT count(*) FROM (
    SELECT 1 FROM audit_log a
    WHERE a.seq > $1
      AND a.action NOT LIKE 'audit.checkpoint%'
      AND NOT (a.action LIKE 'outbox.%' AND EXISTS (
          SELECT 1 FROM outbox o
          WHERE o.message_id = (CASE WHEN a.subject ~
                  '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                THEN a.subject::uuid END)
            AND o.kind IN ('audit_checkpoint', 'checkpoint_countersignature')))
    LIMIT $2
) counted;

-- name: checkpoint_chain_hashes
SELECT seq, hash FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2;

-- name: checkpoint_insert
INSERT INTO audit_checkpoints (seq, first_seq, head_hash, entry_hashes, at)
VALUES ($1, $2, $3, $4, $5);

-- name: checkpoint_copy_insert_many
INSERT INTO audit_checkpoint_copies (message_id, seq, peer, envelope_sha256, envelope)
SELECT u.message_id, $1, u.peer, u.envelope_sha256, u.envelope
FROM unnest($2::uuid[], $3::text[], $4::bytea[], $5::bytea[])
     AS u(message_id, peer, envelope_sha256, envelope);

-- name: checkpoint_countersign
-- The first countersignature of a copy sent to $1 (check S4: that peer, that envelope, that
-- seq and head hash); no row when there is no such copy or it is countersigned already.
UPDATE audit_checkpoint_copies p
SET countersignature = $5, countersignature_id = $6, countersignature_sha256 = $7,
    countersignature_receipt = $8, countersigned_at = $9, countersignature_received_at = $10
FROM audit_checkpoints c
WHERE p.peer = $1 AND p.envelope_sha256 = $2 AND p.seq = $3 AND c.seq = p.seq
  AND c.head_hash = $4 AND p.countersignature IS NULL
RETURNING p.message_id;

-- name: checkpoint_copy_exists
SELECT 1 FROM audit_checkpoint_copies p JOIN audit_checkpoints c ON c.seq = p.seq
WHERE p.peer = $1 AND p.envelope_sha256 = $2 AND p.seq = $3 AND c.head_hash = $4;

-- name: checkpoint_countersignature_find_many
SELECT countersignature_id AS message_id, countersignature_sha256 AS envelope_sha256,
       countersignature_receipt AS receipt
FROM audit_checkpoint_copies WHERE peer = $1 AND countersignature_id = ANY($2::uuid[]);

-- name: checkpoint_list
-- The $2 checkpoints after seq $1 with each of their copies, oldest first.
SELECT c.seq, c.first_seq, c.head_hash, c.entry_hashes, c.at, p.peer, p.envelope_sha256,
       p.envelope, p.countersignature, p.countersigned_at, p.countersignature_received_at
FROM audit_checkpoints c LEFT JOIN audit_checkpoint_copies p ON p.seq = c.seq
WHERE c.seq IN (SELECT seq FROM audit_checkpoints WHERE seq > $1 ORDER BY seq LIMIT $2)
ORDER BY c.seq, p.peer;

-- name: checkpoint_countersigned_latest
SELECT peer, max(countersignature_received_at) AS at
FROM audit_checkpoint_copies WHERE countersignature IS NOT NULL GROUP BY peer;

-- name: peer_checkpoint_insert
INSERT INTO peer_audit_checkpoints (origin, message_id, seq, first_seq, head_hash,
    entry_hashes, at, envelope_sha256, receipt, received_at, countersignature_id, contradiction)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
ON CONFLICT (origin, message_id) DO NOTHING
RETURNING message_id;

-- name: peer_checkpoint_find_many
SELECT message_id, envelope_sha256, receipt
FROM peer_audit_checkpoints WHERE origin = $1 AND message_id = ANY($2::uuid[]);

-- name: peer_checkpoint_lock
-- One checkpoint of an origin recorded at a time: each is compared with those held.
SELECT pg_advisory_xact_lock(hashtext('blg.peer_checkpoint'), hashtext($1));

-- name: peer_checkpoint_newest
SELECT max(seq) FROM peer_audit_checkpoints WHERE origin = $1;

-- name: peer_checkpoint_overlapping
-- Checkpoints held from $1 that cover any entry of $2..$3 (a bounded few: an honest origin's
-- ranges do not overlap, re-sent ones repeat one).
SELECT seq, first_seq, entry_hashes FROM peer_audit_checkpoints
WHERE origin = $1 AND seq >= $2 AND first_seq <= $3
ORDER BY seq DESC LIMIT 16;

-- name: peer_checkpoint_contradicted
SELECT origin, count(*) AS contradicted
FROM peer_audit_checkpoints WHERE contradiction IS NOT NULL GROUP BY origin;

-- name: peer_checkpoint_latest
-- The newest checkpoint held from origin $1 (the highest seq; on a tie the first received).
SELECT seq, head_hash, envelope_sha256, received_at FROM peer_audit_checkpoints
WHERE origin = $1 ORDER BY seq DESC, received_at LIMIT 1;

-- issue 13: search

-- name: search_key_newest
SELECT generation, key_id, sealed FROM search_keys ORDER BY generation DESC LIMIT 1;

-- name: search_key_insert
-- A first or replacement key; a concurrent writer of the same generation wins (no row back).
INSERT INTO search_keys (generation, key_id, sealed, created_at)
VALUES ($1, $2, $3, $4)
ON CONFLICT (generation) DO NOTHING
RETURNING generation;

-- name: search_key_rewrap
-- The same key sealed again to a newer own key pair (rotation), if no one did it first.
UPDATE search_keys SET key_id = $3, sealed = $4
WHERE generation = $1 AND key_id = $2
RETURNING generation;

-- name: search_keys_drop_older
-- Keys (and, by cascade, entries) older than generation $1: what no key opens any more.
DELETE FROM search_keys WHERE generation < $1;

-- name: search_indexed_forget
-- Every row is read again under a new key.
DELETE FROM search_indexed;

-- name: search_pending_inbox
-- Received rows above id $2 the indexer has not read yet, oldest first. Rows whose content
-- retention deleted hold nobody to find: never read.
SELECT i.id, i.sender AS peer, i.case_id, i.kind, i.envelope, i.handling,
       i.received_at AS occurred_at
FROM inbox i
WHERE i.id > $2 AND i.envelope IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM search_indexed s WHERE s.inbox_id = i.id)
ORDER BY i.id LIMIT $1;

-- name: search_pending_outbox
-- Sent rows (our own copies) above id $2 the indexer has not read yet, oldest first.
SELECT o.id, o.recipient AS peer, o.case_id, o.kind, o.envelope, o.handling,
       o.queued_at AS occurred_at
FROM outbox o
WHERE o.id > $2 AND o.envelope IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM search_indexed s WHERE s.outbox_id = o.id)
ORDER BY o.id LIMIT $1;

-- name: search_indexed_insert
-- Claims rows as read; only those returned get their entries written (another indexer that
-- read them first keeps its own).
INSERT INTO search_indexed (direction, inbox_id, outbox_id, persons, indexed_at)
SELECT d, i, o, p, $5
FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::integer[]) AS t(d, i, o, p)
ON CONFLICT DO NOTHING
RETURNING direction, coalesce(inbox_id, outbox_id) AS message_row;

-- name: search_entries_insert
INSERT INTO search_entries (direction, inbox_id, outbox_id, ordinal, case_id, kind, peer,
    occurred_at, generation, sealed)
SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::integer[], $5::uuid[],
    $6::text[], $7::text[], $8::timestamptz[], $9::integer[], $10::bytea[]);

-- name: search_entries_after
SELECT id, direction, coalesce(inbox_id, outbox_id) AS message_row, ordinal, case_id, kind,
       peer, occurred_at, generation, sealed
FROM search_entries WHERE id > $1 ORDER BY id LIMIT $2;

-- name: search_entries_present
-- Of the given entry ids, those still stored (retention or a deletion may have taken some).
SELECT id FROM search_entries WHERE id = ANY($1::bigint[]);

-- name: search_entries_ids
-- Every stored entry id up to $1: what a full reload keeps.
SELECT id FROM search_entries WHERE id <= $1;

-- name: search_progress
-- messages: the rows that have content to read (retention's leave nothing to index).
SELECT (SELECT count(*) FROM search_indexed) AS indexed,
       (SELECT count(*) FROM search_entries) AS entries,
       (SELECT count(*) FROM inbox WHERE envelope IS NOT NULL)
       + (SELECT count(*) FROM outbox WHERE envelope IS NOT NULL) AS messages;

-- issue 13: matches (possible matches, 0021_possible_matches.sql)

-- name: possible_match_cursor
SELECT last_entry_id FROM possible_match_cursor;

-- name: possible_match_cursor_lock
-- The finder's cursor, locked for the transaction that records pairs up to the next one.
SELECT last_entry_id FROM possible_match_cursor FOR UPDATE;

-- name: possible_match_cursor_advance
UPDATE possible_match_cursor SET last_entry_id = $1 WHERE last_entry_id < $1;

-- name: possible_match_insert
-- Pairs as (entry, case) lower entry first; a pair recorded before is left alone.
INSERT INTO possible_matches (case_id, other_case_id, entry_id, other_entry_id, reasons,
    created_at)
SELECT p.case_id, p.other_case_id, p.entry_id, p.other_entry_id,
       string_to_array(p.reasons, ','), $6
FROM unnest($1::uuid[], $2::uuid[], $3::bigint[], $4::bigint[], $5::text[])
     AS p (case_id, other_case_id, entry_id, other_entry_id, reasons)
ON CONFLICT (entry_id, other_entry_id) DO NOTHING
RETURNING id, case_id, other_case_id, entry_id, other_entry_id, reasons;

-- name: possible_match_open_cases
-- Which of the cases $1 are open: not cancelled by a peer here nor by this node, and with
-- at least one message still alive (received, or sent and not rejected, expired or dead).
SELECT c.case_id FROM unnest($1::uuid[]) AS c (case_id)
WHERE NOT EXISTS (SELECT 1 FROM cases_cancelled x WHERE x.case_id = c.case_id)
  AND NOT EXISTS (SELECT 1 FROM cancellations_sent x WHERE x.case_id = c.case_id)
  AND (EXISTS (SELECT 1 FROM inbox i WHERE i.case_id = c.case_id
                 AND i.kind IN ('wanted_person_notice', 'victim_handover', 'hotline_alert'))
       OR EXISTS (SELECT 1 FROM outbox o WHERE o.case_id = c.case_id
                 AND o.kind IN ('wanted_person_notice', 'victim_handover', 'hotline_alert')
                 AND o.state NOT IN ('rejected', 'expired', 'dead')));

-- name: possible_match_of_case
-- The pairs shown on case $1's page, seen from it: "other" is always the other case.
SELECT m.id, m.state::text AS state, m.reasons, m.decided_by, u.name AS decided_by_name,
       m.decided_at, m.created_at,
       CASE WHEN m.case_id = $1 THEN m.other_case_id ELSE m.case_id END AS other_case,
       CASE WHEN m.case_id = $1 THEN m.entry_id ELSE m.other_entry_id END AS own_entry,
       CASE WHEN m.case_id = $1 THEN m.other_entry_id ELSE m.entry_id END AS other_entry
FROM possible_matches m LEFT JOIN console_users u ON u.id = m.decided_by
WHERE m.case_id = $1 OR m.other_case_id = $1
ORDER BY m.id
LIMIT $2;

-- name: possible_match_decide
-- Only an open pair of the case named, once: the trigger refuses any other change.
UPDATE possible_matches SET state = $3::text::possible_match_state, decided_by = $4,
    decided_at = $5
WHERE id = $1 AND state = 'open' AND (case_id = $2 OR other_case_id = $2)
RETURNING id, case_id, other_case_id;

-- name: possible_match_open_count
SELECT count(*) FROM possible_matches WHERE state = 'open';

-- issue 13: report
-- The half-yearly and yearly report (gateway/report/aggregate.py): aggregates over what the
-- database holds in the clear (kinds, peers, times). Periods are [$start, $end) instants; a
-- month is a bucket of width_bucket over the local month starts ($months), so the node's
-- time zone is applied by the caller, not by a zone name PostgreSQL must know.

-- name: report_message_counts
-- Messages queued here (one outbox row per recipient) and received, per peer, kind, month.
SELECT 'sent' AS direction, recipient AS peer, kind,
       width_bucket(queued_at, $1::timestamptz[]) AS month, count(*)::int AS n
FROM outbox
WHERE kind = ANY($2::text[]) AND queued_at >= $3 AND queued_at < $4
GROUP BY recipient, kind, month
UNION ALL
SELECT 'received', sender, kind, width_bucket(received_at, $1::timestamptz[]), count(*)::int
FROM inbox
WHERE kind = ANY($2::text[]) AND received_at >= $3 AND received_at < $4
GROUP BY sender, kind, width_bucket(received_at, $1::timestamptz[]);

-- name: report_acknowledgements
-- Sent messages queued in the period that needed an acknowledgement, against their
-- deadline: on time, late, missing (past due at $3, none) and awaiting (not due yet); the
-- times from queued to acknowledged (the acknowledging person's instant) of those answered.
SELECT d.peer, d.kind,
       count(*) FILTER (WHERE d.acknowledged_at <= d.due_at)::int AS on_time,
       count(*) FILTER (WHERE d.acknowledged_at > d.due_at)::int AS late,
       count(*) FILTER (WHERE d.acknowledged_at IS NULL AND d.due_at < $3)::int AS missing,
       count(*) FILTER (WHERE d.acknowledged_at IS NULL AND d.due_at >= $3)::int AS awaiting,
       percentile_cont(0.5) WITHIN GROUP (
           ORDER BY extract(epoch FROM d.acknowledged_at - o.queued_at)) AS median_seconds,
       percentile_cont(0.9) WITHIN GROUP (
           ORDER BY extract(epoch FROM d.acknowledged_at - o.queued_at)) AS p90_seconds
FROM acknowledgement_deadlines d JOIN outbox o ON o.message_id = d.message_id
WHERE d.due_at IS NOT NULL AND o.queued_at >= $1 AND o.queued_at < $2
GROUP BY d.peer, d.kind;

-- name: report_delivery_latency
-- Messages queued in the period, per peer: delivered (with the time from queued to
-- delivered) and not (yet) delivered.
SELECT recipient AS peer,
       count(*) FILTER (WHERE state = 'delivered')::int AS delivered,
       count(*) FILTER (WHERE state <> 'delivered')::int AS undelivered,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - queued_at))
           FILTER (WHERE state = 'delivered') AS median_seconds,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - queued_at))
           FILTER (WHERE state = 'delivered') AS p90_seconds
FROM outbox
WHERE kind = ANY($3::text[]) AND queued_at >= $1 AND queued_at < $2
GROUP BY recipient;

-- name: report_cancellations
-- Cancellations queued here (one per recipient) and received, per peer and kind.
SELECT 'sent' AS direction, c.recipient AS peer, o.kind, count(*)::int AS n
FROM cancellations_sent c JOIN outbox o ON o.message_id = c.message_id
WHERE o.queued_at >= $1 AND o.queued_at < $2
GROUP BY c.recipient, o.kind
UNION ALL
SELECT 'received', x.sender, i.kind, count(*)::int
FROM cases_cancelled x JOIN inbox i ON i.sender = x.sender AND i.message_id = x.cancellation
WHERE i.received_at >= $1 AND i.received_at < $2
GROUP BY x.sender, i.kind;

-- name: report_untallied_outbox
-- Sent messages of kinds $1 whose content is still here and whose facts are not recorded
-- yet, queued in [$2, $3), after id $4 (primary key order: each page walks the index).
SELECT 'out' AS direction, o.id, o.case_id, o.kind, o.queued_at AS at, o.envelope
FROM outbox o
WHERE o.id > $4 AND o.kind = ANY($1::text[]) AND o.envelope IS NOT NULL
  AND o.queued_at >= $2 AND o.queued_at < $3
  AND NOT EXISTS (SELECT 1 FROM report_facts f WHERE f.direction = 'out' AND f.row_id = o.id)
ORDER BY o.id
LIMIT $5;

-- name: report_untallied_inbox
SELECT 'in' AS direction, i.id, i.case_id, i.kind, i.received_at AS at, i.envelope
FROM inbox i
WHERE i.id > $4 AND i.kind = ANY($1::text[]) AND i.envelope IS NOT NULL
  AND i.received_at >= $2 AND i.received_at < $3
  AND NOT EXISTS (SELECT 1 FROM report_facts f WHERE f.direction = 'in' AND f.row_id = i.id)
ORDER BY i.id
LIMIT $5;

-- name: report_facts_insert
-- Facts of a page of rows; a row tallied meanwhile by another process keeps its first facts.
INSERT INTO report_facts (direction, row_id, key_id, sealed, tallied_at)
SELECT d, r, k, s, $5 FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bytea[]) AS t(d, r, k, s)
ON CONFLICT (direction, row_id) DO NOTHING;

-- name: report_facts_outbox
-- Sent messages of kinds $3 queued in [$1, $2) with their sealed facts (tallied false: none
-- recorded, the content went before it was tallied), after id $4, in id order.
SELECT 'out' AS direction, o.id, o.case_id, o.kind, o.queued_at AS at, f.key_id, f.sealed,
       f.row_id IS NOT NULL AS tallied
FROM outbox o LEFT JOIN report_facts f ON f.direction = 'out' AND f.row_id = o.id
WHERE o.id > $4 AND o.kind = ANY($3::text[]) AND o.queued_at >= $1 AND o.queued_at < $2
ORDER BY o.id
LIMIT $5;

-- name: report_facts_inbox
SELECT 'in' AS direction, i.id, i.case_id, i.kind, i.received_at AS at, f.key_id, f.sealed,
       f.row_id IS NOT NULL AS tallied
FROM inbox i LEFT JOIN report_facts f ON f.direction = 'in' AND f.row_id = i.id
WHERE i.id > $4 AND i.kind = ANY($3::text[]) AND i.received_at >= $1 AND i.received_at < $2
ORDER BY i.id
LIMIT $5;

-- name: report_case_origins
-- Which side wrote each case's first message of kinds $2 (ours: outbox; a peer's: inbox).
SELECT c.case_id,
       (SELECT min(o.queued_at) FROM outbox o
        WHERE o.case_id = c.case_id AND o.kind = ANY($2::text[])) AS first_sent,
       (SELECT min(i.received_at) FROM inbox i
        WHERE i.case_id = c.case_id AND i.kind = ANY($2::text[])) AS first_received
FROM unnest($1::uuid[]) AS c(case_id);
