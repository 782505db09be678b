-- Rate limits slide: the hits of the window before the current one count
-- too, weighted by how much of it is still within the limit's period.
ALTER TABLE rate_limits ADD COLUMN previous_hits INTEGER NOT NULL DEFAULT 0;
