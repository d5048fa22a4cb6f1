-- The console's case page reads every inbox row of one case, and an answer sent through the
-- local API (?in_reply_to=) looks an incoming message up by its id alone. The inbox had
-- neither index (its unique key leads with the sender), so both were sequential scans.
CREATE INDEX inbox_case ON inbox (case_id, received_at);
CREATE INDEX inbox_message ON inbox (message_id);
