//! Sign-in by password, with the lockout of repeated failures, and the
//! session it opens.

use super::audit::AuditKind;
use super::hashing::Verdict;
use super::{
    Core, CoreError, Device, Held, LONGEST_PASSWORD_BYTES, LoginPolicy, Proof, SessionLength, SignedIn,
    VerificationStep, seconds_until, secrets,
};
use crate::domain::{
    Account, AccountId, Limited, LockoutRule, Password, Session, SessionId, case_fold, client_key,
};
use crate::store::{AccountChange, LoginReservation};
use serde_json::json;
use std::net::IpAddr;
use time::{Duration, OffsetDateTime};

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
        let outcome = self.attempt_login(login, password, device, policy).await;
        metrics::counter!("klucznik_sign_ins_total", "outcome" => sign_in_outcome(&outcome)).increment(1);
        outcome
    }

    async fn attempt_login(
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
        let client = device.address;
        // Failures from one address across every account; counted before
        // the hash like the lockout, taken back when the attempt succeeds.
        self.admit(Limited::SignInFailures, client).await?;
        let (lockout, found) = match self.reserve_lockout(&login_key, client, now).await {
            Ok(reserved) => reserved,
            Err(refused) => {
                self.readmit(Limited::SignInFailures, client).await?;
                return Err(refused);
            }
        };
        let (account, has_second_factor) = match found {
            Some((account, has_factor)) => (Some(account), has_factor),
            None => (None, false),
        };
        let verdict = self
            .hasher
            .verify(password, account.as_ref().map(|a| a.password_hash.as_str()))
            .await?;
        let known = account.as_ref().map(|account| account.id.clone());
        let Some(mut account) = account.filter(|_| verdict != Verdict::Mismatch) else {
            self.lockout_failed(&lockout, now, known.as_ref()).await?;
            let reason = if known.is_some() {
                "wrong_password"
            } else {
                "unknown_login"
            };
            self.sign_in_failed(known.as_ref(), reason).await;
            return Err(if known.is_none() && policy.tells_unknown_login {
                CoreError::UnknownLogin
            } else {
                CoreError::InvalidCredentials
            });
        };
        // A right password clears both counters: with the new session in
        // its transaction, or on its own when no session follows.
        let cleared = [lockout.pair.key.as_str(), lockout.account.key.as_str()];
        self.readmit(Limited::SignInFailures, client).await?;
        let refused = if account.disabled {
            Some((CoreError::AccountDisabled, "disabled"))
        } else if require_verified_email && account.email.is_some() && account.email_verified_at.is_none() {
            Some((CoreError::EmailNotVerified, "email_not_verified"))
        } else {
            None
        };
        if let Some((refusal, reason)) = refused {
            self.store.clear_login_failures(cleared).await?;
            self.sign_in_failed(Some(&account.id), reason).await;
            return Err(refusal);
        }
        if verdict == Verdict::MatchNeedsRehash
            && let Ok(parsed) = Password::parse(password)
        {
            let hash = self.hasher.hash(&parsed).await?;
            let change = AccountChange::Password {
                hash: hash.clone(),
                replacing: Some(account.password_hash.clone()),
            };
            // Not when the password changed meanwhile: that one stays.
            if self.store.update_account(&account.id, &change, now, &[]).await? {
                account.password_hash = hash;
                account.updated_at = now;
            }
        }
        if let Err(gated) = self
            .second_factor_gate_of(&account, policy, has_second_factor)
            .await
        {
            self.store.clear_login_failures(cleared).await?;
            return Err(gated);
        }
        self.open_session(account, policy, device, Proof::Password, &cleared)
            .await
    }

    /// Counts a second-factor attempt of the account, paused like a
    /// sign-in after `lockout_threshold` failures: a right password opens
    /// a new challenge each time, so the tries of one challenge alone
    /// would not bound the guesses.
    pub(super) async fn reserve_second_factor_try(
        &self,
        account_id: &AccountId,
    ) -> Result<SecondFactorTry, CoreError> {
        let counter = LockoutCounter {
            key: format!("second-factor\n{account_id}"),
            rule: self.lockout_rule(self.settings.lockout_threshold),
            failures: 0,
        };
        let [counter] = self.reserve_counters([counter], self.now()).await?;
        Ok(SecondFactorTry(counter))
    }

    /// How the reserved second-factor try went.
    pub(super) async fn second_factor_try_done(
        &self,
        attempt: SecondFactorTry,
        right: bool,
    ) -> Result<(), CoreError> {
        let SecondFactorTry(counter) = attempt;
        if right {
            return Ok(self
                .store
                .clear_login_failures([&counter.key, &counter.key])
                .await?);
        }
        let now = self.now();
        self.store
            .login_attempt_failed(&counter.key, counter.failures, now, &counter.rule)
            .await?;
        Ok(())
    }

    /// Counts an attempt on both password counters of the account the
    /// name belongs to (or of the name, when none does): with the account
    /// comes whether it has a second factor.
    async fn reserve_lockout(
        &self,
        login_key: &str,
        client: Option<IpAddr>,
        now: OffsetDateTime,
    ) -> Result<(Lockout, Option<(Account, bool)>), CoreError> {
        let found = self.store.account_for_sign_in(login_key).await?;
        // Distinct prefixes, so no typed name can make its key equal an
        // account's: every login name of one account shares its counters.
        let subject = match &found {
            Some((account, _)) => account_subject(&account.id),
            None => format!("name:{login_key}"),
        };
        let lockout = self.reserve_password_try(&subject, client, now).await?;
        Ok((lockout, found))
    }

    /// Counts an attempt at the password of `subject` on its two
    /// counters: the one for this client address (paused after
    /// `lockout_threshold` failures) and the account-wide ceiling (after
    /// `account_lockout_threshold`), so an attacker elsewhere cannot lock
    /// the owner out before the ceiling. Sign-in, step-up and a password
    /// change all count here (design §7).
    async fn reserve_password_try(
        &self,
        subject: &str,
        client: Option<IpAddr>,
        now: OffsetDateTime,
    ) -> Result<Lockout, CoreError> {
        // The client before the subject, so no subject can make one
        // counter's key equal another's.
        let pair = LockoutCounter {
            key: format!("pair\n{}\n{subject}", client_key(client)),
            rule: self.lockout_rule(self.settings.lockout_threshold),
            failures: 0,
        };
        let account = LockoutCounter {
            key: format!("account\n{subject}"),
            rule: self.lockout_rule(self.settings.account_lockout_threshold),
            failures: 0,
        };
        let [pair, account] = self.reserve_counters([pair, account], now).await?;
        Ok(Lockout { pair, account })
    }

    /// Checks the password of a signed-in account (a step-up, a password
    /// change), counted like a sign-in: failures pause it as they pause
    /// sign-ins, so a stolen session is no password oracle.
    pub(super) async fn check_own_password(
        &self,
        account_id: &AccountId,
        password: &str,
        client: Option<IpAddr>,
    ) -> Result<bool, CoreError> {
        let now = self.now();
        let lockout = self
            .reserve_password_try(&account_subject(account_id), client, now)
            .await?;
        let account = self.account_required(account_id).await;
        let right = match &account {
            Ok(account) if password.len() <= LONGEST_PASSWORD_BYTES => {
                self.hasher.verify(password, Some(&account.password_hash)).await? != Verdict::Mismatch
            }
            _ => false,
        };
        if right {
            let cleared = [lockout.pair.key.as_str(), lockout.account.key.as_str()];
            self.store.clear_login_failures(cleared).await?;
        } else {
            self.lockout_failed(&lockout, now, Some(account_id)).await?;
        }
        account.map(|_| right)
    }

    /// Reserves an attempt on every counter in one statement, or on none
    /// (`settle`).
    async fn reserve_counters<const N: usize>(
        &self,
        counters: [LockoutCounter; N],
        now: OffsetDateTime,
    ) -> Result<[LockoutCounter; N], CoreError> {
        let keys: Vec<(&str, &LockoutRule)> = counters
            .iter()
            .map(|counter| (counter.key.as_str(), &counter.rule))
            .collect();
        let answers = self.store.reserve_login_attempts(&keys, now).await?;
        self.settle(counters, &answers, now).await
    }

    /// The counters with the failures their reservation counted, when every
    /// one was granted; otherwise those granted are taken back and the
    /// first refusal answers.
    async fn settle<const N: usize>(
        &self,
        mut counters: [LockoutCounter; N],
        answers: &[LoginReservation],
        now: OffsetDateTime,
    ) -> Result<[LockoutCounter; N], CoreError> {
        if answers.len() != N {
            return Err(CoreError::internal("lockout counters answered out of step"));
        }
        let mut refusal = None;
        for (counter, answer) in counters.iter_mut().zip(answers) {
            match *answer {
                LoginReservation::Granted { failures } => counter.failures = failures,
                refused => {
                    refusal.get_or_insert(refused);
                }
            }
        }
        let refusal = match refusal {
            None => return Ok(counters),
            Some(LoginReservation::Paused { until }) => {
                metrics::counter!("klucznik_rate_limit_trips_total", "limit" => "lockout").increment(1);
                CoreError::TooManyAttempts {
                    retry_after_secs: seconds_until(now, until),
                    held: Held::FailedSignIns,
                }
            }
            // The threshold's worth of attempts is being checked: a moment.
            Some(_) => CoreError::TooManyAttempts {
                retry_after_secs: 1,
                held: Held::SignInsInProgress,
            },
        };
        for (counter, answer) in counters.iter().zip(answers) {
            if matches!(answer, LoginReservation::Granted { .. }) {
                self.store.release_login_attempt(&counter.key).await?;
            }
        }
        Err(refusal)
    }

    /// The reserved attempt failed: each counter pauses when its rule says.
    async fn lockout_failed(
        &self,
        lockout: &Lockout,
        now: OffsetDateTime,
        account: Option<&AccountId>,
    ) -> Result<(), CoreError> {
        for (counter, scope) in [(&lockout.pair, "address"), (&lockout.account, "account")] {
            if let Some(pause) = counter.rule.pause_after(counter.failures) {
                tracing::warn!(
                    failures = counter.failures,
                    pause_s = pause.whole_seconds(),
                    "sign-ins paused after repeated failures"
                );
                let detail = json!({
                    "scope": scope,
                    "failures": counter.failures,
                    "pause_s": pause.whole_seconds(),
                });
                self.record(&[self.audit_event(AuditKind::Lockout, account, None, detail)])
                    .await;
            }
            self.store
                .login_attempt_failed(&counter.key, counter.failures, now, &counter.rule)
                .await?;
        }
        Ok(())
    }

    /// A refused sign-in, recorded (of an account that exists, or not).
    async fn sign_in_failed(&self, account: Option<&AccountId>, reason: &str) {
        let event = self.audit_event(
            AuditKind::SignInFailed,
            account,
            None,
            json!({ "reason": reason }),
        );
        self.record(&[event]).await;
    }

    fn lockout_rule(&self, threshold: u32) -> LockoutRule {
        LockoutRule {
            threshold,
            first: FIRST_LOCKOUT,
            longest: LONGEST_LOCKOUT,
        }
    }

    /// Opens a session for an account the core has just authenticated by
    /// some other means (a code, a passkey, a second factor).
    pub(super) async fn start_session(
        &self,
        account: Account,
        policy: LoginPolicy,
        device: Device,
        proof: Proof,
    ) -> Result<SignedIn, CoreError> {
        self.open_session(account, policy, device, proof, &[]).await
    }

    /// Signs a new account up and in at once, as the frontends of the
    /// dialects without a verification step expect: the password just
    /// chosen is the proof, and the same second-factor gate applies.
    pub async fn sign_up_and_in(
        &self,
        new: super::NewAccount,
        device: Device,
        lang: crate::mail::Lang,
        policy: LoginPolicy,
    ) -> Result<SignedIn, CoreError> {
        let registered = self
            .register(new, super::Actor::Visitor, device.address, lang)
            .await?;
        self.second_factor_gate_of(&registered.account, policy, false)
            .await?;
        self.open_session(registered.account, policy, device, Proof::Password, &[])
            .await
    }

    /// `start_session`, clearing the lockout counters `cleared` in the
    /// same transaction (a sign-in by password).
    async fn open_session(
        &self,
        account: Account,
        policy: LoginPolicy,
        device: Device,
        proof: Proof,
        cleared: &[&str],
    ) -> Result<SignedIn, CoreError> {
        let now = self.now();
        let remember_me = policy.length == SessionLength::RememberMe;
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
            ip: device.address.map(|a| a.to_canonical().to_string()),
            created_at: now,
            last_used_at: now,
            expires_at: now + lifetime,
            idle_timeout: idle,
            revoked_at: None,
            strong_auth_at: proof.is_strong().then_some(now),
            door: policy.door.audience(),
            amr: proof.amr().to_owned(),
        };
        let session_secret = secrets::random_secret();
        let refresh_token = secrets::random_secret();
        let detail = json!({ "session": session.id.to_string(), "remember_me": remember_me });
        let event = self.audit_event(AuditKind::SignIn, Some(&account.id), None, detail);
        self.store
            .insert_session(
                &session,
                &secrets::digest(&session_secret),
                &secrets::digest(&refresh_token),
                &[event],
                cleared,
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

/// A reserved second-factor attempt (`reserve_second_factor_try`).
pub(super) struct SecondFactorTry(LockoutCounter);

/// One lockout counter of a sign-in attempt, as reserved.
struct LockoutCounter {
    key: String,
    rule: LockoutRule,
    /// Failures so far, this attempt included.
    failures: u32,
}

/// Both counters an attempt was reserved on.
struct Lockout {
    pair: LockoutCounter,
    account: LockoutCounter,
}

/// The password counters' subject for an account, whichever of its login
/// names was typed (a name no account has is `name:…`).
fn account_subject(account_id: &AccountId) -> String {
    format!("id:{account_id}")
}

/// How a sign-in ended, as the metrics count it.
fn sign_in_outcome(outcome: &Result<SignedIn, CoreError>) -> &'static str {
    match outcome {
        Ok(_) => "success",
        Err(CoreError::InvalidCredentials | CoreError::UnknownLogin) => "invalid_credentials",
        Err(CoreError::TooManyAttempts { .. }) => "throttled",
        Err(CoreError::AccountDisabled) => "disabled",
        Err(CoreError::EmailNotVerified) => "email_not_verified",
        Err(CoreError::SecondFactorRequired { .. }) => "second_factor_required",
        Err(CoreError::Unavailable) => "unavailable",
        Err(_) => "error",
    }
}
