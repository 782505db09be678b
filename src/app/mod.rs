//! The use cases of Klucznik over the storage port: sign-up, sign-in,
//! sessions and refresh, account changes, administration. Nothing here knows
//! HTTP; every dialect calls these same methods.

mod account;
mod admin;
pub mod admin_area;
pub mod audit;
pub mod clock;
mod error;
pub mod foreign_hashes;
pub mod hashing;
mod keys;
mod limits;
pub mod links;
mod members;
mod mfa;
mod model;
mod moving;
pub mod oidc;
pub mod passkeys;
pub mod ports;
mod recovery;
mod renewal;
pub mod secrets;
mod sessions;
mod signin;
mod signup;
pub mod tokens;
pub mod upstream;
mod verification;

#[cfg(test)]
mod tests;

pub use error::{CoreError, Fault, Held, ResetProblem, VerificationProblem};
pub use hashing::{Argon2Cost, PasswordHasherPool};
pub use keys::{KeyState, KeySummary};
pub use mfa::{SecondFactor, SecondFactorStatus, TotpEnrolment};
pub use model::{
    Actor, CoreSettings, Device, Door, LoginPolicy, Need, NewAccount, Principal, Proof, Registered,
    SessionLength, SignedIn, VerificationStep,
};
pub use renewal::{AccessTerm, IssuedAccessToken};
pub use sessions::Credential;
pub use tokens::{Claims, JwtAlgorithm, TokenRejection, TokenService};
pub use verification::IssuedVerification;

use crate::domain::Account;
use crate::mail::{Composer, Lang};
use crate::store::{DynStore, OutboxMessage, StoreError, UniqueField};
use std::sync::Arc;
use time::OffsetDateTime;
use tokio::sync::Notify;

/// Passwords past this size cannot match; refused cheaply.
const LONGEST_PASSWORD_BYTES: usize = 4 * crate::domain::password::MAX_LEN;

pub struct Core {
    store: DynStore,
    hasher: PasswordHasherPool,
    tokens: TokenService,
    settings: CoreSettings,
    composer: Composer,
    /// Wakes the outbox worker when a message is queued.
    mail_wake: Arc<Notify>,
    clock: Arc<dyn clock::Clock>,
    /// The shapes of mailed links, unless a caller brings its own.
    links: links::Links,
    /// The key verification codes are stored under (HMAC), read from the
    /// database once.
    code_key: tokio::sync::OnceCell<Vec<u8>>,
    /// The WebAuthn relying party (`--public-url`'s host); none when that
    /// host is an IP address, where browsers refuse passkeys.
    webauthn: Option<Arc<webauthn_rs::Webauthn>>,
    /// The `[[upstream]]` providers, and the network that reaches them.
    upstream: upstream::Upstream,
}

/// What the core is made of, built by `startup`.
pub struct CoreParts {
    pub store: DynStore,
    pub hasher: PasswordHasherPool,
    pub tokens: TokenService,
    pub settings: CoreSettings,
    pub composer: Composer,
    /// Wakes the outbox worker when a message is queued.
    pub mail_wake: Arc<Notify>,
    pub clock: Arc<dyn clock::Clock>,
    /// The default shapes of mailed links (the web page's routes).
    pub links: links::Links,
    pub webauthn: Option<Arc<webauthn_rs::Webauthn>>,
    pub upstream: upstream::Upstream,
}

impl Core {
    pub fn new(parts: CoreParts) -> Self {
        Self {
            store: parts.store,
            hasher: parts.hasher,
            tokens: parts.tokens,
            settings: parts.settings,
            composer: parts.composer,
            mail_wake: parts.mail_wake,
            clock: parts.clock,
            links: parts.links,
            code_key: tokio::sync::OnceCell::new(),
            webauthn: parts.webauthn,
            upstream: parts.upstream,
        }
    }

    fn compose(&self, lang: Lang, to: &str, mail: crate::mail::Mail<'_>) -> Result<OutboxMessage, CoreError> {
        let mut message = self
            .composer
            .compose(lang, to, mail)
            .map_err(|e| CoreError::internal(format!("mail template: {e}")))?;
        // Dated on the core's clock, which the outbox worker reads too.
        message.created_at = self.now();
        Ok(message)
    }

    /// The injected clock's time, at the store's millisecond precision.
    fn now(&self) -> OffsetDateTime {
        clock::to_millis_precision(self.clock.now())
    }

    pub fn settings(&self) -> &CoreSettings {
        &self.settings
    }

    pub fn jwks(&self) -> serde_json::Value {
        self.tokens.jwks()
    }

    /// What the metrics show of the core's state; the outbox is `None`
    /// when the database does not answer.
    pub async fn operating_figures(&self) -> OperatingFigures {
        let outbox = self.store.outbox_counts().await.ok();
        let oldest_pending_age_secs = outbox
            .and_then(|counts| counts.oldest_pending)
            .map_or(0.0, |oldest| (self.now() - oldest).as_seconds_f64().max(0.0));
        OperatingFigures {
            outbox,
            oldest_pending_age_secs,
            pool: self.store.pool_use(),
            hashing_queue: self.hasher.queue_length(),
        }
    }

    /// How many messages wait, went out, or failed for good.
    pub async fn outbox_counts(&self) -> Result<crate::store::OutboxCounts, CoreError> {
        Ok(self.store.outbox_counts().await?)
    }

    /// Deletes what has ended more than `--prune-after` ago (the janitor's
    /// round, and `klucznik prune`).
    pub async fn prune(&self) -> Result<crate::store::PruneCounts, CoreError> {
        let counts = self
            .store
            .prune(
                self.now(),
                self.settings.prune_after,
                self.settings.audit_retention,
            )
            .await?;
        if counts.total() > 0 {
            tracing::info!(?counts, "pruned ended rows");
        }
        Ok(counts)
    }

    /// The key short secrets (verification codes) are stored under: a
    /// code has ~41 bits, so a bare hash of it falls to a table in
    /// minutes; an HMAC needs this key too, which lives apart from the
    /// rows (sealed under `--secret-key-file` when that is set).
    async fn code_key(&self) -> Result<&[u8], CoreError> {
        self.code_key
            .get_or_try_init(|| self.shared_secret("code-hmac"))
            .await
            .map(Vec::as_slice)
    }

    /// The store's housekeeping, five times a second.
    pub async fn tick(&self) -> Result<(), CoreError> {
        Ok(self.store.tick().await?)
    }

    /// Whether the database answers.
    pub async fn ready(&self) -> Result<(), CoreError> {
        Ok(self.store.ping().await?)
    }
}

/// The core's state as the metrics show it.
#[derive(Debug, Clone, Copy)]
pub struct OperatingFigures {
    pub outbox: Option<crate::store::OutboxCounts>,
    pub oldest_pending_age_secs: f64,
    pub pool: crate::store::PoolUse,
    pub hashing_queue: usize,
}

/// The names of an account's roles, as tokens and views carry them.
pub fn role_names(account: &Account) -> Vec<String> {
    account.roles.iter().map(|r| r.as_str().to_owned()).collect()
}

/// What a write of an account that broke a unique rule means: the email or
/// the username is taken (the store names which).
pub(crate) fn account_write_error(error: StoreError) -> CoreError {
    match error {
        StoreError::Conflict(UniqueField::Email) => CoreError::EmailTaken,
        StoreError::Conflict(UniqueField::Username) => CoreError::UsernameTaken,
        StoreError::Conflict(UniqueField::Other) => {
            CoreError::internal("an account write broke an unexpected unique key")
        }
        other => other.into(),
    }
}

fn non_empty(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.trim().is_empty())
}

fn seconds_until(now: OffsetDateTime, until: OffsetDateTime) -> u64 {
    let millis = (until - now).whole_milliseconds().max(0);
    u64::try_from((millis + 999) / 1000).unwrap_or(1).max(1)
}
