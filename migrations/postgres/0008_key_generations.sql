-- Signing keys get a generation (1, 2, … per algorithm) and the time they
-- start signing. The generation is unique, so two instances that create
-- the first key, or rotate, at the same moment cannot both succeed: the
-- loser reloads and uses the winner's key.
ALTER TABLE signing_keys ADD COLUMN generation BIGINT NOT NULL DEFAULT 0;
ALTER TABLE signing_keys ADD COLUMN signs_from BIGINT NOT NULL DEFAULT 0;
UPDATE signing_keys SET
    signs_from = created_at,
    generation = (
        SELECT COUNT(*) FROM signing_keys AS older
        WHERE older.algorithm = signing_keys.algorithm
          AND (older.created_at < signing_keys.created_at
               OR (older.created_at = signing_keys.created_at AND older.kid <= signing_keys.kid))
    );
CREATE UNIQUE INDEX signing_keys_generation ON signing_keys (algorithm, generation);
