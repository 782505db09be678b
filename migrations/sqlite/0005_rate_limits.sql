-- Per-client counters (failed sign-ins across accounts, sign-ups, guessed
-- codes and tokens, mails asked for), one row per action and client address
-- in a fixed window, shared by every instance.
CREATE TABLE rate_limits (
    key          TEXT PRIMARY KEY,
    window_start INTEGER NOT NULL,
    hits         INTEGER NOT NULL
);
CREATE INDEX rate_limits_window_start ON rate_limits (window_start);
CREATE INDEX login_failures_last_failed_at ON login_failures (last_failed_at);
