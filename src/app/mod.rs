//! The use cases of Klucznik over the storage port: sign-up, sign-in,
//! sessions and refresh, account changes, administration. Nothing here knows
//! HTTP; every dialect calls these same methods.

pub mod clock;
mod error;
pub mod hashing;
mod members;
mod recovery;
mod renewal;
pub mod secrets;
pub mod tokens;
mod verification;

pub use error::{CoreError, ResetProblem, VerificationProblem};
pub use hashing::{Argon2Cost, PasswordHasherPool};
pub use renewal::{AccessTerm, IssuedAccessToken};
pub use tokens::{Claims, JwtAlgorithm, TokenRejection, TokenService};
pub use verification::IssuedVerification;

use crate::domain::{Account, Email, Invalid, Password, Role, Session, Username};
use crate::mail::{Composer, Lang, LinkStyle};
use crate::store::{AccountPage, DynStore, OutboxMessage, Rotation, StoreError, UniqueField};
use hashing::Verdict;
use std::sync::Arc;
use time::{Duration, OffsetDateTime};
use tokio::sync::Notify;

/// Lifetimes and limits of the core, from configuration.
#[derive(Debug, Clone)]
pub struct CoreSettings {
    pub access_ttl: Duration,
    /// A normal session ends after this long unused…
    pub session_idle: Duration,
    /// …and after this long in any case.
    pub session_absolute: Duration,
    /// A remember-me session lasts this long, used or not.
    pub remember_me_ttl: Duration,
    /// How long after a rotation the old refresh token still gets its successor.
    pub refresh_grace: Duration,
    /// Lifetime, from sign-in, of a refresh token that is never rotated
    /// (jwt-roles, whose frontends keep the first one).
    pub fixed_refresh_ttl: Duration,
    /// Consecutive failures of one login name before sign-in pauses.
    pub lockout_threshold: u32,
    /// An account with an unverified email cannot sign in (native API, web
    /// page, verify-code dialect).
    pub require_verified_email: bool,
}

impl Default for CoreSettings {
    fn default() -> Self {
        Self {
            access_ttl: Duration::minutes(15),
            session_idle: Duration::hours(24),
            session_absolute: Duration::days(7),
            remember_me_ttl: Duration::days(30),
            refresh_grace: Duration::seconds(2),
            fixed_refresh_ttl: Duration::hours(24),
            lockout_threshold: 10,
            require_verified_email: true,
        }
    }
}

/// First pause after the threshold; it doubles with each further failure.
const FIRST_LOCKOUT: Duration = Duration::seconds(30);
const LONGEST_LOCKOUT: Duration = Duration::minutes(15);
/// How stale `last_used_at` may get before a request writes it again.
const TOUCH_INTERVAL: Duration = Duration::seconds(60);
/// Sign-in input past these sizes cannot match an account; refused cheaply.
const LONGEST_LOGIN: usize = 320;
const LONGEST_PASSWORD_BYTES: usize = 4 * crate::domain::password::MAX_LEN;

/// What a sign-up asks for, as typed.
#[derive(Debug, Clone, Default)]
pub struct NewAccount {
    pub email: Option<String>,
    pub username: Option<String>,
    pub password: String,
    pub roles: Vec<Role>,
    /// The operator vouches for the email: no verification mail.
    pub email_verified: bool,
    /// Where the verification link points.
    pub links: LinkStyle,
}

/// A new account, and the verification mailed to it when it has an email.
#[derive(Debug, Clone)]
pub struct Registered {
    pub account: Account,
    pub verification: Option<IssuedVerification>,
}

/// Where a request came from, kept with its session for the user to see.
#[derive(Debug, Clone, Default)]
pub struct Device {
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

/// The outcome of a sign-in or refresh.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub account: Account,
    pub session: Session,
    pub access_token: String,
    pub expires_in: Duration,
    pub refresh_token: String,
    /// The browser-session secret; only a sign-in creates one.
    pub session_secret: Option<String>,
}

/// An authenticated request: whose, and through which session.
#[derive(Debug, Clone)]
pub struct Principal {
    pub account: Account,
    pub session: Session,
}

/// Who performs an action that not everyone may.
#[derive(Debug, Clone, Copy)]
pub enum Actor<'a> {
    /// The operator at the command line, with access to the database.
    Operator,
    Account(&'a Account),
    /// Nobody signed in (a self-registration).
    Visitor,
}

/// Whether the API signing someone in has a step where the email is
/// verified first; one without it lets unverified accounts in, as its
/// frontends expect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerificationStep {
    /// `KLUCZNIK_REQUIRE_VERIFIED_EMAIL` decides.
    Present,
    Absent,
}

/// How long a new session lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SessionLength {
    /// Idle and absolute expiry from configuration.
    #[default]
    Normal,
    /// 30 days, used or not.
    RememberMe,
}

impl SessionLength {
    pub fn remember_me(remember: bool) -> Self {
        if remember { Self::RememberMe } else { Self::Normal }
    }
}

/// How a sign-in goes, named at the call site.
#[derive(Debug, Clone, Copy)]
pub struct LoginPolicy {
    pub verification_step: VerificationStep,
    pub length: SessionLength,
}

impl LoginPolicy {
    /// For APIs that verify the email before sign-in (native, web page, verify-code).
    pub const WITH_VERIFICATION_STEP: Self = Self {
        verification_step: VerificationStep::Present,
        length: SessionLength::Normal,
    };
    /// For APIs whose frontends sign in right after sign-up.
    pub const WITHOUT_VERIFICATION_STEP: Self = Self {
        verification_step: VerificationStep::Absent,
        length: SessionLength::Normal,
    };

    pub fn with_length(self, length: SessionLength) -> Self {
        Self { length, ..self }
    }
}

pub struct Core {
    store: DynStore,
    hasher: PasswordHasherPool,
    tokens: TokenService,
    settings: CoreSettings,
    composer: Composer,
    /// Wakes the outbox worker when a message is queued.
    mail_wake: Arc<Notify>,
    clock: Arc<dyn clock::Clock>,
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
}

impl Core {
    pub fn new(parts: CoreParts) -> Self {
        let CoreParts {
            store,
            hasher,
            tokens,
            settings,
            composer,
            mail_wake,
            clock,
        } = parts;
        Self {
            store,
            hasher,
            tokens,
            settings,
            composer,
            mail_wake,
            clock,
        }
    }

    fn compose(&self, lang: Lang, to: &str, mail: crate::mail::Mail<'_>) -> Result<OutboxMessage, CoreError> {
        self.composer
            .compose(lang, to, mail)
            .map_err(|e| CoreError::internal(format!("mail template: {e}")))
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

    /// How many messages wait, went out, or failed for good.
    pub async fn outbox_counts(&self) -> Result<crate::store::OutboxCounts, CoreError> {
        Ok(self.store.outbox_counts().await?)
    }

    /// Whether the database answers.
    pub async fn ready(&self) -> Result<(), CoreError> {
        Ok(self.store.ping().await?)
    }

    /// Creates an account; one with an email also gets a verification code
    /// and link, mailed in the same transaction.
    #[tracing::instrument(skip_all)]
    /// Roles beyond `user`, and an email taken as verified, are honoured
    /// only when an admin or the operator asks.
    pub async fn register(
        &self,
        new: NewAccount,
        by: Actor<'_>,
        lang: Lang,
    ) -> Result<Registered, CoreError> {
        let trusted = Self::ensure_admin(by).is_ok();
        let email = non_empty(new.email.as_deref()).map(Email::parse).transpose()?;
        let username = non_empty(new.username.as_deref())
            .map(Username::parse)
            .transpose()?;
        if email.is_none() && username.is_none() {
            return Err(Invalid::IdentifierMissing.into());
        }
        let password = Password::parse(&new.password)?;
        let now = self.now();
        let mut roles = if trusted { new.roles } else { Vec::new() };
        roles.push(Role::User);
        roles.sort();
        roles.dedup();
        let account = Account {
            id: uuid::Uuid::now_v7().to_string(),
            email: email.as_ref().map(|e| e.as_str().to_owned()),
            username: username.as_ref().map(|u| u.as_str().to_owned()),
            password_hash: self.hasher.hash(&password).await?,
            email_verified_at: (trusted && new.email_verified && email.is_some()).then_some(now),
            roles,
            custom_username: username.is_some(),
            disabled: false,
            created_at: now,
            updated_at: now,
        };
        let pending = match (&email, trusted && new.email_verified) {
            (Some(email), false) => Some(self.new_verification(
                &account.id,
                email.as_str(),
                crate::store::VerificationPurpose::Signup,
                false,
                lang,
                &new.links,
            )?),
            _ => None,
        };
        let (record, mail, issued) = match pending {
            Some((record, mail, issued)) => (Some(record), Some(mail), Some(issued)),
            None => (None, None, None),
        };
        match self
            .store
            .insert_account(&account, record.as_ref(), mail.as_ref())
            .await
        {
            Ok(()) => {
                tracing::info!(account_id = %account.id, "account created");
                if mail.is_some() {
                    self.mail_wake.notify_one();
                }
                Ok(Registered {
                    account,
                    verification: issued,
                })
            }
            Err(StoreError::Conflict(UniqueField::Email)) => Err(CoreError::EmailTaken),
            Err(StoreError::Conflict(UniqueField::Username)) => Err(CoreError::UsernameTaken),
            Err(StoreError::Conflict(UniqueField::Other)) => Err(CoreError::internal(
                "an account insert broke an unexpected unique key",
            )),
            Err(other) => Err(other.into()),
        }
    }

    /// Signs in by email or username. Unknown names and wrong passwords get
    /// the same error after the same work; repeated failures of one name
    /// pause its sign-ins, counted in the database for every instance.
    #[tracing::instrument(skip_all)]
    pub async fn login(
        &self,
        login: &str,
        password: &str,
        device: Device,
        policy: LoginPolicy,
    ) -> Result<SignedIn, CoreError> {
        let require_verified_email = match policy.verification_step {
            VerificationStep::Present => self.settings.require_verified_email,
            VerificationStep::Absent => false,
        };
        let login_key = login.trim().to_lowercase();
        if login_key.is_empty() || login_key.len() > LONGEST_LOGIN || password.len() > LONGEST_PASSWORD_BYTES
        {
            return Err(CoreError::InvalidCredentials);
        }
        let now = self.now();
        let failures = self.store.login_failures(&login_key).await?;
        if let Some(until) = failures.and_then(|f| f.locked_until)
            && until > now
        {
            return Err(CoreError::TooManyAttempts {
                retry_after_secs: seconds_until(now, until),
            });
        }
        let account = self.store.account_by_login(&login_key).await?;
        let verdict = self
            .hasher
            .verify(password, account.as_ref().map(|a| a.password_hash.as_str()))
            .await?;
        let Some(mut account) = account.filter(|_| verdict != Verdict::Mismatch) else {
            self.count_failure(&login_key, now).await?;
            return Err(CoreError::InvalidCredentials);
        };
        if failures.is_some() {
            self.store.clear_login_failures(&login_key).await?;
        }
        if account.disabled {
            return Err(CoreError::AccountDisabled);
        }
        if require_verified_email && account.email.is_some() && account.email_verified_at.is_none() {
            return Err(CoreError::EmailNotVerified);
        }
        if verdict == Verdict::MatchNeedsRehash
            && let Ok(parsed) = Password::parse(password)
        {
            account.password_hash = self.hasher.hash(&parsed).await?;
            account.updated_at = now;
            self.store.update_account(&account).await?;
        }
        self.start_session(account, policy.length, device).await
    }

    async fn count_failure(&self, login_key: &str, now: OffsetDateTime) -> Result<(), CoreError> {
        let count = self.store.add_login_failure(login_key, now).await?;
        if count >= self.settings.lockout_threshold {
            let doublings = (count - self.settings.lockout_threshold).min(16);
            let pause = (FIRST_LOCKOUT * 2_i32.pow(doublings)).min(LONGEST_LOCKOUT);
            tracing::warn!(
                failures = count,
                pause_s = pause.whole_seconds(),
                "sign-ins paused after repeated failures"
            );
            self.store.lock_login(login_key, now + pause).await?;
        }
        Ok(())
    }

    /// Opens a session for an account already authenticated by some means.
    pub async fn start_session(
        &self,
        account: Account,
        length: SessionLength,
        device: Device,
    ) -> Result<SignedIn, CoreError> {
        let now = self.now();
        let remember_me = length == SessionLength::RememberMe;
        let (lifetime, idle) = if remember_me {
            (self.settings.remember_me_ttl, self.settings.remember_me_ttl)
        } else {
            (self.settings.session_absolute, self.settings.session_idle)
        };
        let session = Session {
            id: uuid::Uuid::now_v7().to_string(),
            account_id: account.id.clone(),
            remember_me,
            user_agent: device.user_agent.map(|ua| ua.chars().take(512).collect()),
            ip: device.ip,
            created_at: now,
            last_used_at: now,
            expires_at: now + lifetime,
            idle_timeout: idle,
            revoked_at: None,
        };
        let session_secret = secrets::random_secret();
        let refresh_token = secrets::random_secret();
        self.store
            .insert_session(
                &session,
                &secrets::digest(&session_secret),
                &secrets::digest(&refresh_token),
            )
            .await?;
        tracing::info!(account_id = %account.id, session_id = %session.id, "signed in");
        let access_token = self.issue_access_token(&account, &session, now)?;
        Ok(SignedIn {
            account,
            session,
            access_token,
            expires_in: self.tokens.ttl(),
            refresh_token,
            session_secret: Some(session_secret),
        })
    }

    fn issue_access_token(
        &self,
        account: &Account,
        session: &Session,
        now: OffsetDateTime,
    ) -> Result<String, CoreError> {
        self.tokens
            .issue(&account.id, &session.id, role_names(account), now)
    }

    /// Exchanges a refresh token for a new pair. A token used before revokes
    /// its session, unless the repeat comes within the grace window, when it
    /// gets the same successor (two tabs refreshing at once, a lost answer).
    #[tracing::instrument(skip_all)]
    pub async fn refresh(&self, refresh_token: &str) -> Result<SignedIn, CoreError> {
        let presented = refresh_token.trim();
        if presented.is_empty() || presented.len() > 256 {
            return Err(CoreError::InvalidRefreshToken);
        }
        let digest = secrets::digest(presented);
        let Some(mut record) = self.store.refresh_token(&digest).await? else {
            return Err(CoreError::InvalidRefreshToken);
        };
        let now = self.now();
        let Some(principal) = self.live_session(&record.session_id, now).await? else {
            return Err(self.why_not_live(&record.session_id, now).await?);
        };
        if record.used_at.is_none() {
            let successor = secrets::random_secret();
            let sealed = secrets::seal_successor(presented, &successor)
                .ok_or_else(|| CoreError::internal("sealing failed"))?;
            match self
                .store
                .rotate_refresh_token(&digest, &secrets::digest(&successor), &sealed, now)
                .await?
            {
                Rotation::Rotated => return self.refreshed(principal, successor, now),
                Rotation::AlreadyUsed(raced) => record = raced,
                Rotation::Unknown => return Err(CoreError::InvalidRefreshToken),
            }
        }
        let within_grace = record
            .used_at
            .is_some_and(|used| now - used <= self.settings.refresh_grace);
        let successor = record
            .sealed_successor
            .as_deref()
            .and_then(|sealed| secrets::open_successor(presented, sealed));
        match (within_grace, successor) {
            (true, Some(successor)) => self.refreshed(principal, successor, now),
            _ => {
                tracing::warn!(session_id = %principal.session.id, "refresh token reused; session revoked");
                self.store.revoke_session(&principal.session.id, now).await?;
                Err(CoreError::InvalidRefreshToken)
            }
        }
    }

    /// Why a refresh token's session is not live: expired (a seed tells
    /// that apart) or revoked.
    async fn why_not_live(&self, session_id: &str, now: OffsetDateTime) -> Result<CoreError, CoreError> {
        let expired = self
            .store
            .session_by_id(session_id)
            .await?
            .is_some_and(|s| s.revoked_at.is_none() && !s.is_active(now));
        Ok(if expired {
            CoreError::RefreshTokenExpired
        } else {
            CoreError::InvalidRefreshToken
        })
    }

    fn refreshed(
        &self,
        principal: Principal,
        refresh_token: String,
        now: OffsetDateTime,
    ) -> Result<SignedIn, CoreError> {
        let access_token = self.issue_access_token(&principal.account, &principal.session, now)?;
        Ok(SignedIn {
            account: principal.account,
            session: principal.session,
            access_token,
            expires_in: self.tokens.ttl(),
            refresh_token,
            session_secret: None,
        })
    }

    /// The live session and its enabled account, marking the session used.
    async fn live_session(
        &self,
        session_id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Principal>, CoreError> {
        let Some(session) = self.store.session_by_id(session_id).await? else {
            return Ok(None);
        };
        self.principal_of(session, now).await
    }

    async fn principal_of(
        &self,
        mut session: Session,
        now: OffsetDateTime,
    ) -> Result<Option<Principal>, CoreError> {
        if !session.is_active(now) {
            return Ok(None);
        }
        let Some(account) = self.store.account_by_id(&session.account_id).await? else {
            return Ok(None);
        };
        if account.disabled {
            return Ok(None);
        }
        if now - session.last_used_at > TOUCH_INTERVAL {
            self.store.touch_session(&session.id, now).await?;
            session.last_used_at = now;
        }
        Ok(Some(Principal { account, session }))
    }

    /// Authenticates an access token: valid signature and expiry, and a
    /// session that is still live (so sign-out and disabling take effect at
    /// once, not when the token expires).
    pub async fn authenticate_access_token(&self, token: &str) -> Result<Principal, CoreError> {
        let claims = self
            .tokens
            .verify(token)
            .await
            .map_err(|rejection| match rejection {
                TokenRejection::Expired => CoreError::TokenExpired,
                TokenRejection::Invalid => CoreError::Unauthenticated,
            })?;
        let principal = self
            .live_session(&claims.sid, self.now())
            .await?
            .ok_or(CoreError::Unauthenticated)?;
        if principal.account.id != claims.sub {
            return Err(CoreError::Unauthenticated);
        }
        Ok(principal)
    }

    /// Authenticates a browser-session secret (the session cookie).
    pub async fn authenticate_session_secret(&self, secret: &str) -> Result<Principal, CoreError> {
        if secret.is_empty() || secret.len() > 256 {
            return Err(CoreError::Unauthenticated);
        }
        let session = self
            .store
            .session_by_secret(&secrets::digest(secret))
            .await?
            .ok_or(CoreError::Unauthenticated)?;
        self.principal_of(session, self.now())
            .await?
            .ok_or(CoreError::Unauthenticated)
    }

    pub async fn logout(&self, principal: &Principal) -> Result<(), CoreError> {
        self.store
            .revoke_session(&principal.session.id, self.now())
            .await?;
        tracing::info!(session_id = %principal.session.id, "signed out");
        Ok(())
    }

    /// Ends every session of the account, this one included.
    pub async fn logout_everywhere(&self, account_id: &str) -> Result<u64, CoreError> {
        Ok(self
            .store
            .revoke_sessions_of(account_id, None, self.now())
            .await?)
    }

    pub async fn revoke_other_sessions(&self, principal: &Principal) -> Result<u64, CoreError> {
        Ok(self
            .store
            .revoke_sessions_of(&principal.account.id, Some(&principal.session.id), self.now())
            .await?)
    }

    /// The account's live sessions, newest first.
    pub async fn sessions(&self, account_id: &str) -> Result<Vec<Session>, CoreError> {
        let now = self.now();
        let mut sessions = self.store.sessions_of(account_id).await?;
        sessions.retain(|s| s.is_active(now));
        Ok(sessions)
    }

    /// Revokes one of the account's own sessions.
    pub async fn revoke_session(&self, account_id: &str, session_id: &str) -> Result<(), CoreError> {
        let now = self.now();
        match self.store.session_by_id(session_id).await? {
            Some(session) if session.account_id == account_id && session.is_active(now) => {
                self.store.revoke_session(session_id, now).await?;
                Ok(())
            }
            _ => Err(CoreError::NotFound("session")),
        }
    }

    /// Sets the username the user chose.
    pub async fn set_username(&self, account_id: &str, raw: &str) -> Result<Account, CoreError> {
        let username = Username::parse(raw)?;
        let mut account = self.account_required(account_id).await?;
        account.username = Some(username.as_str().to_owned());
        account.custom_username = true;
        account.updated_at = self.now();
        match self.store.update_account(&account).await {
            Ok(()) => Ok(account),
            Err(StoreError::Conflict(UniqueField::Username)) => Err(CoreError::UsernameTaken),
            Err(StoreError::Conflict(UniqueField::Other)) => Err(CoreError::internal(
                "an account insert broke an unexpected unique key",
            )),
            Err(other) => Err(other.into()),
        }
    }

    /// Changes the password after checking the current one; every other
    /// session of the account ends.
    #[tracing::instrument(skip_all)]
    pub async fn change_password(
        &self,
        principal: &Principal,
        current: &str,
        new: &str,
    ) -> Result<(), CoreError> {
        let new = Password::parse(new)?;
        let mut account = self.account_required(&principal.account.id).await?;
        if current.len() > LONGEST_PASSWORD_BYTES
            || self.hasher.verify(current, Some(&account.password_hash)).await? == Verdict::Mismatch
        {
            return Err(CoreError::WrongCurrentPassword);
        }
        account.password_hash = self.hasher.hash(&new).await?;
        account.updated_at = self.now();
        self.store.update_account(&account).await?;
        self.revoke_other_sessions(principal).await?;
        tracing::info!(account_id = %account.id, "password changed");
        Ok(())
    }

    /// The account as it is now (a session's copy may be older).
    pub async fn account_for(&self, id: &str) -> Result<Account, CoreError> {
        self.account_required(id).await
    }

    async fn account_required(&self, id: &str) -> Result<Account, CoreError> {
        self.store
            .account_by_id(id)
            .await?
            .ok_or(CoreError::NotFound("account"))
    }

    // --- administration -------------------------------------------------

    /// Admins and the operator only.
    pub fn ensure_admin(actor: Actor<'_>) -> Result<(), CoreError> {
        match actor {
            Actor::Operator => Ok(()),
            Actor::Account(account) if account.has_role(Role::Admin) => Ok(()),
            Actor::Account(_) | Actor::Visitor => Err(CoreError::Forbidden),
        }
    }

    pub async fn list_accounts(
        &self,
        actor: Actor<'_>,
        search: Option<&str>,
        offset: u64,
        limit: u64,
    ) -> Result<AccountPage, CoreError> {
        Self::ensure_admin(actor)?;
        let search = search.map(str::trim).filter(|s| !s.is_empty());
        Ok(self.store.list_accounts(search, offset, limit).await?)
    }

    pub async fn account(&self, actor: Actor<'_>, id: &str) -> Result<Account, CoreError> {
        Self::ensure_admin(actor)?;
        self.account_required(id).await
    }

    /// Finds an account by email or username (for the operator's CLI).
    pub async fn account_by_login(&self, actor: Actor<'_>, login: &str) -> Result<Account, CoreError> {
        Self::ensure_admin(actor)?;
        self.store
            .account_by_login(login)
            .await?
            .ok_or(CoreError::NotFound("account"))
    }

    pub async fn set_role(
        &self,
        actor: Actor<'_>,
        id: &str,
        role: Role,
        granted: bool,
    ) -> Result<Account, CoreError> {
        Self::ensure_admin(actor)?;
        let mut account = self.account_required(id).await?;
        if granted {
            account.grant(role);
        } else {
            account.revoke(role);
        }
        account.updated_at = self.now();
        self.store.update_account(&account).await?;
        tracing::info!(account_id = %account.id, role = role.as_str(), granted, "role changed");
        Ok(account)
    }

    /// Disables (ending every session) or enables an account.
    pub async fn set_disabled(
        &self,
        actor: Actor<'_>,
        id: &str,
        disabled: bool,
    ) -> Result<Account, CoreError> {
        Self::ensure_admin(actor)?;
        let mut account = self.account_required(id).await?;
        account.disabled = disabled;
        account.updated_at = self.now();
        self.store.update_account(&account).await?;
        if disabled {
            self.logout_everywhere(&account.id).await?;
        }
        tracing::info!(account_id = %account.id, disabled, "account status changed");
        Ok(account)
    }

    /// Sets a password without knowing the old one (operator only); every
    /// session of the account ends.
    pub async fn reset_password(&self, actor: Actor<'_>, id: &str, new: &str) -> Result<(), CoreError> {
        Self::ensure_admin(actor)?;
        let new = Password::parse(new)?;
        let mut account = self.account_required(id).await?;
        account.password_hash = self.hasher.hash(&new).await?;
        account.updated_at = self.now();
        self.store.update_account(&account).await?;
        self.logout_everywhere(&account.id).await?;
        Ok(())
    }
}

/// The names of an account's roles, as tokens and views carry them.
pub fn role_names(account: &Account) -> Vec<String> {
    account.roles.iter().map(|r| r.as_str().to_owned()).collect()
}

fn non_empty(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.trim().is_empty())
}

fn seconds_until(now: OffsetDateTime, until: OffsetDateTime) -> u64 {
    let millis = (until - now).whole_milliseconds().max(0);
    u64::try_from((millis + 999) / 1000).unwrap_or(1).max(1)
}
