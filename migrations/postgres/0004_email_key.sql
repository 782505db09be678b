-- Verifications are looked up by the normalised address (trimmed, Unicode
-- lower case, computed by the program: SQLite's lower() knows only ASCII).
ALTER TABLE email_verifications ADD COLUMN email_normalized TEXT;
UPDATE email_verifications SET email_normalized = lower(trim(email));
CREATE INDEX email_verifications_email_normalized ON email_verifications (email_normalized);
DROP INDEX email_verifications_email;
