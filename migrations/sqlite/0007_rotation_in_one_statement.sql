-- A refresh rotation is one statement: marking the presented token used,
-- with the digest of its successor, inserts the successor (this trigger)
-- in the same implicit transaction. One statement instead of a transaction
-- of four is what a refresh costs on the hot path.
ALTER TABLE refresh_tokens ADD COLUMN successor_digest TEXT;
CREATE TRIGGER refresh_tokens_successor
AFTER UPDATE OF used_at ON refresh_tokens
WHEN OLD.used_at IS NULL AND NEW.successor_digest IS NOT NULL
BEGIN
    INSERT INTO refresh_tokens (digest, session_id, created_at)
    VALUES (NEW.successor_digest, NEW.session_id, NEW.used_at);
END;
