-- Report facts (issue 13 item 3): what the half-yearly report counts from a message's sealed
-- content (victims' sex, age group and minor status; a hotline alert's category and urgency),
-- recorded once per outbox or inbox row before retention deletes the content (victim-protected
-- content goes 14 days after delivery, long before a half-year report is made).
--
-- The facts are coded values, never a name, a date or a number, and they are sealed to this
-- node's own key all the same (gateway/crypto/drafts.py sealing, bound to the row): the
-- database holds no victim data in the clear. sealed NULL: the content did not open (its keys
-- are gone), counted as unreadable. Rows of outbox and inbox are never deleted, so a fact
-- outlives nothing; no foreign key, as one column names rows of two tables.
CREATE TABLE report_facts (
    direction   text NOT NULL CHECK (direction IN ('in', 'out')),
    row_id      bigint NOT NULL,
    key_id      text,
    sealed      bytea,
    tallied_at  timestamptz NOT NULL,
    PRIMARY KEY (direction, row_id),
    CHECK ((key_id IS NULL) = (sealed IS NULL))
);
