//! Second factors: TOTP secrets (encrypted at rest under the key-encryption
//! key when one is set), recovery codes, and the sign-in challenges
//! between a right password and a session.

use super::db::{Db, Tx, args};
use super::sealing::{KeySealer, is_sealed};
use super::sql::SqlStore;
use super::{
    AuditEvent, Ceremony, MfaChallenge, PasskeyRecord, SecondFactors, StoreError, TotpRecord, audit,
    from_millis, passkeys, to_millis,
};
use crate::domain::AccountId;
use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sqlx::AssertSqlSafe;
use time::OffsetDateTime;

/// An SQL condition: the account `account` (a column or a placeholder)
/// has a confirmed TOTP or a passkey.
pub(super) fn second_factor_of(account: &str) -> String {
    format!(
        "(EXISTS (SELECT 1 FROM mfa_totp WHERE mfa_totp.account_id = {account} \
         AND mfa_totp.confirmed_at IS NOT NULL) \
         OR EXISTS (SELECT 1 FROM passkeys WHERE passkeys.account_id = {account}))"
    )
}

fn aad(account_id: &str) -> String {
    format!("totp/{account_id}")
}

pub async fn totp(
    db: &Db,
    account_id: &str,
    sealer: Option<&KeySealer>,
) -> Result<Option<TotpRecord>, StoreError> {
    let sql = "SELECT secret, confirmed_at, last_step FROM mfa_totp WHERE account_id = $1";
    let row: Option<(String, Option<i64>, i64)> = db.fetch_optional(sql, args![account_id]).await?;
    let Some((secret, confirmed_at, last_step)) = row else {
        return Ok(None);
    };
    let mut secret = STANDARD
        .decode(secret)
        .map_err(|_| StoreError::Other("a TOTP secret is not base64".into()))?;
    if is_sealed(&secret) {
        let sealer = sealer.ok_or_else(|| {
            StoreError::Other(
                "TOTP secrets are encrypted: set KLUCZNIK_SECRET_KEY or --secret-key-file".into(),
            )
        })?;
        secret = sealer.open(&aad(account_id), &secret)?;
    }
    Ok(Some(TotpRecord {
        secret,
        confirmed_at: confirmed_at.map(from_millis),
        last_step,
    }))
}

/// Stores a new, unconfirmed secret, replacing an unconfirmed one; false
/// when a confirmed one exists.
pub async fn put_totp(
    db: &Db,
    account_id: &str,
    secret: &[u8],
    now: OffsetDateTime,
    sealer: Option<&KeySealer>,
) -> Result<bool, StoreError> {
    let stored = match sealer {
        Some(sealer) => sealer.seal(&aad(account_id), secret)?,
        None => secret.to_vec(),
    };
    let mut tx = Tx::begin(db).await?;
    tx.execute(
        "DELETE FROM mfa_totp WHERE account_id = $1 AND confirmed_at IS NULL",
        args![account_id],
    )
    .await?;
    let sql =
        "INSERT INTO mfa_totp (account_id, secret, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";
    let inserted = tx
        .execute(sql, args![account_id, STANDARD.encode(stored), to_millis(now)])
        .await?;
    tx.commit().await?;
    Ok(inserted == 1)
}

/// Confirms the secret with the step of its first code and stores the
/// recovery codes, replacing older ones.
pub async fn confirm_totp(
    db: &Db,
    account_id: &str,
    step: i64,
    recovery_digests: &[String],
    now: OffsetDateTime,
    events: &[AuditEvent],
) -> Result<bool, StoreError> {
    let mut tx = Tx::begin(db).await?;
    let sql = "UPDATE mfa_totp SET confirmed_at = $2, last_step = $3 WHERE account_id = $1 AND confirmed_at IS NULL";
    if tx.execute(sql, args![account_id, to_millis(now), step]).await? != 1 {
        tx.rollback().await?;
        return Ok(false);
    }
    replace_codes_on(&mut tx, account_id, recovery_digests, now).await?;
    audit::insert_on(&mut tx, events).await?;
    tx.commit().await?;
    Ok(true)
}

/// Takes `step` for the account's confirmed secret unless it or a later
/// step was taken: a code is accepted once.
pub async fn take_totp_step(db: &Db, account_id: &str, step: i64) -> Result<bool, StoreError> {
    let sql = "UPDATE mfa_totp SET last_step = $2 WHERE account_id = $1 AND confirmed_at IS NOT NULL \
         AND last_step < $2";
    Ok(db.execute(sql, args![account_id, step]).await? == 1)
}

/// Removes the account's TOTP and recovery codes; false when it had none.
pub async fn remove_second_factors(
    db: &Db,
    account_id: &str,
    events: &[AuditEvent],
) -> Result<bool, StoreError> {
    let mut tx = Tx::begin(db).await?;
    let removed = tx
        .execute("DELETE FROM mfa_totp WHERE account_id = $1", args![account_id])
        .await?;
    tx.execute(
        "DELETE FROM recovery_codes WHERE account_id = $1",
        args![account_id],
    )
    .await?;
    if removed > 0 {
        audit::insert_on(&mut tx, events).await?;
    }
    tx.commit().await?;
    Ok(removed > 0)
}

async fn replace_codes_on(
    tx: &mut Tx,
    account_id: &str,
    digests: &[String],
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    tx.execute(
        "DELETE FROM recovery_codes WHERE account_id = $1",
        args![account_id],
    )
    .await?;
    for digest in digests {
        let sql = "INSERT INTO recovery_codes (digest, account_id, created_at) VALUES ($1, $2, $3)";
        tx.execute(sql, args![digest, account_id, to_millis(now)]).await?;
    }
    Ok(())
}

/// New recovery codes; the old ones die.
pub async fn replace_recovery_codes(
    db: &Db,
    account_id: &str,
    digests: &[String],
    now: OffsetDateTime,
    events: &[AuditEvent],
) -> Result<(), StoreError> {
    let mut tx = Tx::begin(db).await?;
    replace_codes_on(&mut tx, account_id, digests, now).await?;
    audit::insert_on(&mut tx, events).await?;
    tx.commit().await
}

/// Uses one recovery code of the account, once.
pub async fn use_recovery_code(
    db: &Db,
    account_id: &str,
    digest: &str,
    now: OffsetDateTime,
    events: &[AuditEvent],
) -> Result<bool, StoreError> {
    let mut tx = Tx::begin(db).await?;
    let sql =
        "UPDATE recovery_codes SET used_at = $3 WHERE digest = $1 AND account_id = $2 AND used_at IS NULL";
    if tx.execute(sql, args![digest, account_id, to_millis(now)]).await? != 1 {
        tx.rollback().await?;
        return Ok(false);
    }
    audit::insert_on(&mut tx, events).await?;
    tx.commit().await?;
    Ok(true)
}

pub async fn recovery_codes_left(db: &Db, account_id: &str) -> Result<u64, StoreError> {
    let sql = "SELECT COUNT(*) FROM recovery_codes WHERE account_id = $1 AND used_at IS NULL";
    let (left,): (i64,) = db.fetch_one(sql, args![account_id]).await?;
    Ok(u64::try_from(left).unwrap_or(0))
}

pub async fn insert_challenge(db: &Db, challenge: &MfaChallenge) -> Result<(), StoreError> {
    let sql = "INSERT INTO mfa_challenges (digest, account_id, remember_me, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)";
    let values = args![
        &challenge.digest,
        &challenge.account_id,
        challenge.remember_me,
        to_millis(challenge.created_at),
        to_millis(challenge.expires_at),
    ];
    db.execute(sql, values).await.map(drop)
}

/// Takes one of the challenge's `limit` tries, atomically; the challenge
/// when it is unused, unexpired and had tries left.
pub async fn take_challenge_try(
    db: &Db,
    digest: &str,
    now: OffsetDateTime,
    limit: u32,
) -> Result<Option<MfaChallenge>, StoreError> {
    let sql = "UPDATE mfa_challenges SET attempts = attempts + 1 WHERE digest = $1 AND used_at IS NULL \
         AND expires_at > $2 AND attempts < $3";
    if db
        .execute(sql, args![digest, to_millis(now), i64::from(limit)])
        .await?
        != 1
    {
        return Ok(None);
    }
    let sql = "SELECT account_id, remember_me, created_at, expires_at FROM mfa_challenges WHERE digest = $1";
    let row: Option<(String, bool, i64, i64)> = db.fetch_optional(sql, args![digest]).await?;
    Ok(
        row.map(|(account_id, remember_me, created_at, expires_at)| MfaChallenge {
            digest: digest.to_owned(),
            account_id,
            remember_me,
            created_at: from_millis(created_at),
            expires_at: from_millis(expires_at),
        }),
    )
}

/// Uses the challenge up; false when it was used meanwhile.
pub async fn finish_challenge(db: &Db, digest: &str, now: OffsetDateTime) -> Result<bool, StoreError> {
    let sql = "UPDATE mfa_challenges SET used_at = $2 WHERE digest = $1 AND used_at IS NULL";
    Ok(db.execute(sql, args![digest, to_millis(now)]).await? == 1)
}

#[async_trait]
impl SecondFactors for SqlStore {
    async fn totp(&self, account_id: &AccountId) -> Result<Option<TotpRecord>, StoreError> {
        totp(&self.db, account_id, self.sealer.as_ref()).await
    }

    async fn put_totp(
        &self,
        account_id: &AccountId,
        secret: &[u8],
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        put_totp(&self.db, account_id, secret, now, self.sealer.as_ref()).await
    }

    async fn confirm_totp(
        &self,
        account_id: &AccountId,
        step: i64,
        recovery_digests: &[String],
        now: OffsetDateTime,
        audit: &[AuditEvent],
    ) -> Result<bool, StoreError> {
        confirm_totp(&self.db, account_id, step, recovery_digests, now, audit).await
    }

    async fn take_totp_step(&self, account_id: &AccountId, step: i64) -> Result<bool, StoreError> {
        take_totp_step(&self.db, account_id, step).await
    }

    async fn remove_second_factors(
        &self,
        account_id: &AccountId,
        audit: &[AuditEvent],
    ) -> Result<bool, StoreError> {
        remove_second_factors(&self.db, account_id, audit).await
    }

    async fn replace_recovery_codes(
        &self,
        account_id: &AccountId,
        digests: &[String],
        now: OffsetDateTime,
        audit: &[AuditEvent],
    ) -> Result<(), StoreError> {
        replace_recovery_codes(&self.db, account_id, digests, now, audit).await
    }

    async fn use_recovery_code(
        &self,
        account_id: &AccountId,
        digest: &str,
        now: OffsetDateTime,
        audit: &[AuditEvent],
    ) -> Result<bool, StoreError> {
        use_recovery_code(&self.db, account_id, digest, now, audit).await
    }

    async fn recovery_codes_left(&self, account_id: &AccountId) -> Result<u64, StoreError> {
        recovery_codes_left(&self.db, account_id).await
    }

    async fn insert_mfa_challenge(&self, challenge: &MfaChallenge) -> Result<(), StoreError> {
        insert_challenge(&self.db, challenge).await
    }

    async fn take_mfa_challenge_try(
        &self,
        digest: &str,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Option<MfaChallenge>, StoreError> {
        take_challenge_try(&self.db, digest, now, limit).await
    }

    async fn finish_mfa_challenge(&self, digest: &str, now: OffsetDateTime) -> Result<bool, StoreError> {
        finish_challenge(&self.db, digest, now).await
    }

    async fn has_second_factor(&self, account_id: &AccountId) -> Result<bool, StoreError> {
        let sql = format!("SELECT {}", second_factor_of("$1"));
        let (has,): (bool,) = self
            .db
            .fetch_one(AssertSqlSafe(sql), args![account_id.as_str()])
            .await?;
        Ok(has)
    }

    async fn mfa_challenge_account(
        &self,
        digest: &str,
        now: OffsetDateTime,
    ) -> Result<Option<String>, StoreError> {
        let sql =
            "SELECT account_id FROM mfa_challenges WHERE digest = $1 AND used_at IS NULL AND expires_at > $2";
        let row: Option<(String,)> = self.db.fetch_optional(sql, args![digest, to_millis(now)]).await?;
        Ok(row.map(|(account_id,)| account_id))
    }

    async fn passkeys_of(&self, account_id: &AccountId) -> Result<Vec<PasskeyRecord>, StoreError> {
        passkeys::of_account(&self.db, account_id).await
    }

    async fn passkey(&self, id: &str) -> Result<Option<PasskeyRecord>, StoreError> {
        passkeys::by_id(&self.db, id).await
    }

    async fn insert_passkey(&self, passkey: &PasskeyRecord, audit: &[AuditEvent]) -> Result<(), StoreError> {
        passkeys::insert(&self.db, passkey, audit).await
    }

    async fn passkey_used(&self, id: &str, credential: &str, now: OffsetDateTime) -> Result<(), StoreError> {
        passkeys::used(&self.db, id, credential, now).await
    }

    async fn rename_passkey(&self, account_id: &AccountId, id: &str, name: &str) -> Result<bool, StoreError> {
        passkeys::rename(&self.db, account_id, id, name).await
    }

    async fn delete_passkey(
        &self,
        account_id: &AccountId,
        id: &str,
        audit: &[AuditEvent],
    ) -> Result<bool, StoreError> {
        passkeys::delete(&self.db, account_id, id, audit).await
    }

    async fn put_ceremony(&self, ceremony: &Ceremony) -> Result<(), StoreError> {
        passkeys::put_ceremony(&self.db, ceremony).await
    }

    async fn take_ceremony(
        &self,
        id: &str,
        purpose: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Ceremony>, StoreError> {
        passkeys::take_ceremony(&self.db, id, purpose, now).await
    }
}
