-- When a session was opened by a password or a second factor; a step-up
-- within minutes of it needs no password again. Sessions opened by a
-- mailed code or link (and those made before this column) have none.
ALTER TABLE sessions ADD COLUMN strong_auth_at BIGINT;
