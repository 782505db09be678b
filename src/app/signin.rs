//! Sign-in by password, with the lockout of repeated failures, and the
//! session it opens.

use super::hashing::Verdict;
use super::{
    Core, CoreError, Device, LONGEST_PASSWORD_BYTES, LoginPolicy, SessionLength, SignedIn, VerificationStep,
    seconds_until, secrets,
};
use crate::domain::{Account, LockoutRule, Password, Session, SessionId, case_fold};
use crate::store::LoginReservation;
use time::Duration;

/// First pause after the threshold; it doubles with each further failure.
const FIRST_LOCKOUT: Duration = Duration::seconds(30);
const LONGEST_LOCKOUT: Duration = Duration::minutes(15);
/// Sign-in input past these sizes cannot match an account; refused cheaply.
const LONGEST_LOGIN: usize = 320;

impl Core {
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
        // The form the store compares names in, so the lockout counts one
        // name however it is cased.
        let login_key = case_fold(login);
        if login_key.is_empty() || login_key.len() > LONGEST_LOGIN || password.len() > LONGEST_PASSWORD_BYTES
        {
            return Err(CoreError::InvalidCredentials);
        }
        let now = self.now();
        // Counted before the password is checked, so parallel guesses get
        // no more tries than the rule allows.
        let failures = match self
            .store
            .reserve_login_attempt(&login_key, now, &self.lockout_rule())
            .await?
        {
            LoginReservation::Paused { until } => {
                return Err(CoreError::TooManyAttempts {
                    retry_after_secs: seconds_until(now, until),
                });
            }
            // The threshold's worth of attempts is being checked: a moment.
            LoginReservation::Busy => return Err(CoreError::TooManyAttempts { retry_after_secs: 1 }),
            LoginReservation::Granted { failures } => failures,
        };
        let account = self.store.account_by_login(&login_key).await?;
        let verdict = self
            .hasher
            .verify(password, account.as_ref().map(|a| a.password_hash.as_str()))
            .await?;
        let Some(mut account) = account.filter(|_| verdict != Verdict::Mismatch) else {
            let rule = self.lockout_rule();
            if let Some(pause) = rule.pause_after(failures) {
                tracing::warn!(
                    failures,
                    pause_s = pause.whole_seconds(),
                    "sign-ins paused after repeated failures"
                );
            }
            self.store
                .login_attempt_failed(&login_key, failures, now, &rule)
                .await?;
            return Err(CoreError::InvalidCredentials);
        };
        self.store.clear_login_failures(&login_key).await?;
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

    fn lockout_rule(&self) -> LockoutRule {
        LockoutRule {
            threshold: self.settings.lockout_threshold,
            first: FIRST_LOCKOUT,
            longest: LONGEST_LOCKOUT,
        }
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
            id: SessionId::generate(),
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
}
