-- When a session was opened by a password or a second factor; a step-up
-- within minutes of it needs no password again. Sessions opened by a
-- mailed code or link (and those made before this column) have none.
ALTER TABLE sessions ADD COLUMN strong_auth_at BIGINT;
-- The door (API) a session was opened at: its tokens open no other.
-- Sessions made before this column were the native API's or the page's;
-- a dialect's user signs in again.
ALTER TABLE sessions ADD COLUMN door TEXT NOT NULL DEFAULT 'klucznik:native';
