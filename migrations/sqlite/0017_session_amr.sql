-- How a session was opened, as RFC 8176 authentication-method references
-- (space-separated: "pwd", "pwd otp mfa", "hwk user", "otp", "fed"); the
-- amr claim of ID tokens. Empty for sessions made before it was recorded.
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT '';
