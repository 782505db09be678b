//! Key management: the JWT signing keys' rotation and retirement (by hand
//! with `klucznik keys`, or every `--key-rotation`), and the other keys
//! every instance shares (CSRF, verification codes).
//!
//! A rotation publishes the next key at once and lets it sign
//! `ROTATION_NOTICE` later; every instance reloads its keys every
//! `KEY_RELOAD_EVERY`, so each knows the key before any token signed with
//! it arrives. A retired key stops signing and still verifies until the
//! last token it signed has expired; then it leaves the JWKS.

use super::audit::{AuditKind, current_origin};
use super::tokens::{KEY_RELOAD_EVERY, ROTATION_NOTICE, generate_key};
use super::{Core, CoreError, JwtAlgorithm, secrets};

/// Who changes keys: the operator at the command line, or the server's
/// own `--key-rotation`.
fn key_actor() -> Option<String> {
    Some(
        if current_origin().api == Some("cli") {
            "operator"
        } else {
            "system"
        }
        .into(),
    )
}
use crate::store::SigningKeyRecord;
use time::OffsetDateTime;

/// Where a stored key is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyState {
    /// Signs new tokens now.
    Signing,
    /// Published; signs from `signs_from`.
    Next,
    /// Superseded by a newer key; still verifies.
    Verifying,
    /// Retired; its tokens verify until then.
    Retired { verifies_until: OffsetDateTime },
    /// Retired, and every token it signed has expired.
    Expired,
    /// A shared secret of another kind (CSRF, verification codes), or a
    /// key of the JWT algorithm not configured.
    Shared,
}

/// A stored key as `klucznik keys list` shows it.
#[derive(Debug, Clone)]
pub struct KeySummary {
    pub kid: String,
    pub kind: String,
    pub generation: i64,
    pub created_at: OffsetDateTime,
    pub signs_from: OffsetDateTime,
    pub retired_at: Option<OffsetDateTime>,
    pub state: KeyState,
}

impl Core {
    /// Every stored key with its state.
    pub async fn signing_key_summaries(&self) -> Result<Vec<KeySummary>, CoreError> {
        let now = self.now();
        let ours = self.tokens.algorithms();
        let signing: Vec<String> = ours
            .iter()
            .filter_map(|algorithm| self.tokens.signing_kid(*algorithm, now))
            .collect();
        let window = self.tokens.verify_window();
        let keys = self.store.all_signing_keys().await?;
        Ok(keys
            .into_iter()
            .map(|key| {
                let state = if !ours.iter().any(|algorithm| algorithm.name() == key.algorithm) {
                    KeyState::Shared
                } else if let Some(retired_at) = key.retired_at {
                    let verifies_until = retired_at + window;
                    if verifies_until > now {
                        KeyState::Retired { verifies_until }
                    } else {
                        KeyState::Expired
                    }
                } else if signing.contains(&key.kid) {
                    KeyState::Signing
                } else if key.signs_from > now {
                    KeyState::Next
                } else {
                    KeyState::Verifying
                };
                KeySummary {
                    kid: key.kid,
                    kind: key.algorithm,
                    generation: key.generation,
                    created_at: key.created_at,
                    signs_from: key.signs_from,
                    retired_at: key.retired_at,
                    state,
                }
            })
            .collect())
    }

    /// Publishes the next signing key of the configured algorithm, and of
    /// OpenID Connect's others with it; each signs `ROTATION_NOTICE` from
    /// now on every instance. Two rotations at once: one wins, the other
    /// fails. The summary is the configured algorithm's key.
    pub async fn rotate_signing_key(&self) -> Result<KeySummary, CoreError> {
        let mut rotated = None;
        // The configured algorithm last: its summary is the answer.
        for algorithm in self.tokens.algorithms().into_iter().rev() {
            let latest = self.store.latest_key_generation(algorithm.name()).await?;
            rotated = Some(self.rotate_after(algorithm, latest).await?);
        }
        rotated.ok_or_else(|| CoreError::internal("no algorithm to rotate"))
    }

    /// Stores generation `latest + 1`, unless another instance did first.
    async fn rotate_after(&self, algorithm: JwtAlgorithm, latest: i64) -> Result<KeySummary, CoreError> {
        let now = self.now();
        let generation = latest + 1;
        let key = generate_key(algorithm, generation, now, now + ROTATION_NOTICE)?;
        if !self.store.insert_signing_key(&key).await? {
            return Err(CoreError::KeyChangeRefused(
                "another rotation created the same generation at the same moment; list the keys",
            ));
        }
        let detail = serde_json::json!({ "kid": key.kid, "generation": generation });
        self.record(&[self.audit_event(AuditKind::KeyRotated, None, key_actor(), detail)])
            .await;
        self.tokens.reload().await?;
        tracing::info!(kid = %key.kid, generation, "signing key rotated");
        Ok(KeySummary {
            kid: key.kid,
            kind: key.algorithm,
            generation,
            created_at: now,
            signs_from: key.signs_from,
            retired_at: None,
            state: KeyState::Next,
        })
    }

    /// Stops signing with `kid`: its tokens verify until they expire, or
    /// (`at_once`, for a leaked key) not at all from the next reload on.
    /// The last live key cannot be retired (rotate first).
    pub async fn retire_signing_key(&self, kid: &str, at_once: bool) -> Result<OffsetDateTime, CoreError> {
        let now = self.now();
        let mut live = Vec::new();
        for algorithm in self.tokens.algorithms() {
            let keys: Vec<SigningKeyRecord> = self
                .store
                .signing_keys(algorithm.name(), now)
                .await?
                .into_iter()
                .filter(|key| key.retired_at.is_none())
                .collect();
            if keys.iter().any(|key| key.kid == kid) {
                live = keys;
            }
        }
        if live.is_empty() {
            return Err(CoreError::NotFound("live signing key"));
        }
        if live.len() < 2 {
            return Err(CoreError::KeyChangeRefused(
                "it is the only live signing key: run `klucznik keys rotate` first",
            ));
        }
        // Retired a verify window ago, a key's tokens are already refused.
        let retired_at = if at_once {
            now - self.tokens.verify_window()
        } else {
            now
        };
        if !self.store.retire_signing_key(kid, retired_at).await? {
            return Err(CoreError::NotFound("live signing key"));
        }
        self.tokens.reload().await?;
        let detail = serde_json::json!({ "kid": kid, "at_once": at_once });
        self.record(&[self.audit_event(AuditKind::KeyRetired, None, key_actor(), detail)])
            .await;
        tracing::info!(%kid, at_once, "signing key retired");
        Ok(retired_at + self.tokens.verify_window())
    }

    /// The keys' round, every `KEY_RELOAD_EVERY` on every instance: load
    /// what other instances rotated or retired, and with `--key-rotation`
    /// rotate when the newest key is that old and retire the keys a
    /// signing successor replaced.
    pub async fn maintain_keys(&self) -> Result<(), CoreError> {
        for algorithm in self.tokens.algorithms() {
            self.maintain_keys_of(algorithm).await?;
        }
        self.tokens.reload().await
    }

    /// `--key-rotation`'s round for the keys of one algorithm.
    async fn maintain_keys_of(&self, kind: JwtAlgorithm) -> Result<(), CoreError> {
        if let Some(every) = self.settings.key_rotation {
            let now = self.now();
            let algorithm = kind.name();
            // Read first, as in `load_keys`: of instances rotating in the
            // same round, one succeeds and the others find its key.
            let latest = self.store.latest_key_generation(algorithm).await?;
            let keys = self.store.signing_keys(algorithm, now).await?;
            let live: Vec<&SigningKeyRecord> = keys.iter().filter(|key| key.retired_at.is_none()).collect();
            // Newest generation first.
            if let Some(newest) = live.first()
                && newest.created_at + every <= now
            {
                // Losing to another instance's rotation is no failure.
                let _ = self.rotate_after(kind, latest).await;
            }
            if let Some(signer) = live.iter().find(|key| key.signs_from <= now) {
                for older in live.iter().filter(|key| key.generation < signer.generation) {
                    self.store.retire_signing_key(&older.kid, now).await?;
                }
            }
        }
        Ok(())
    }

    /// How often `maintain_keys` runs.
    pub fn key_round() -> std::time::Duration {
        KEY_RELOAD_EVERY.unsigned_abs()
    }

    /// A random key of `kind` that every instance on the database shares,
    /// created on first start; instances racing to create it try the same
    /// generation, so one insert wins and all use its key.
    pub async fn shared_secret(&self, kind: &str) -> Result<Vec<u8>, CoreError> {
        let now = self.now();
        let mut keys = self.store.signing_keys(kind, now).await?;
        if keys.is_empty() {
            self.store
                .insert_signing_key(&SigningKeyRecord {
                    kid: uuid::Uuid::now_v7().simple().to_string(),
                    algorithm: kind.to_owned(),
                    private_key: secrets::random_bytes::<32>().to_vec(),
                    public_key: Vec::new(),
                    generation: 1,
                    created_at: now,
                    signs_from: now,
                    retired_at: None,
                })
                .await?;
            keys = self.store.signing_keys(kind, now).await?;
        }
        // Newest generation first: the first one is last.
        keys.pop()
            .map(|key| key.private_key)
            .ok_or_else(|| CoreError::internal("no shared key after creating one"))
    }
}
