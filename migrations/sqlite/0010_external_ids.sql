-- An imported account keeps the id it had in the system it came from (a
-- MongoDB ObjectId, say), so that APIs which answered it before answer the
-- same value; unique where set.
ALTER TABLE accounts ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX accounts_external_id ON accounts (external_id);
