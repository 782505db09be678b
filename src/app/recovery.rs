//! Password recovery: a single-use link valid for one hour. Asking for it
//! through the native API answers the same, in the same time, whether or
//! not the account exists.

use super::audit::AuditKind;
use super::links::MailedLinks;
use super::{Core, CoreError, ResetProblem, secrets};
use crate::domain::{AccountId, Limited, Password};
use crate::mail::{Lang, Mail};
use crate::store::PasswordResetRecord;
use serde_json::json;
use std::net::IpAddr;
use std::time::{Duration as StdDuration, Instant};
use time::Duration;

const RESET_LIFETIME: Duration = Duration::hours(1);
/// Every request that may mail an address (forgot-password, a resent
/// verification) takes at least this long, so the work done for a real
/// account does not show in the response time.
const MAIL_FLOOR: StdDuration = StdDuration::from_millis(300);

impl Core {
    /// Mails a reset link when `email` belongs to an enabled account; does
    /// nothing otherwise. Either way it takes the same time.
    #[tracing::instrument(skip_all)]
    pub async fn forgot_password(
        &self,
        email: &str,
        client: Option<IpAddr>,
        lang: Lang,
    ) -> Result<(), CoreError> {
        same_answer_in_same_time(self.send_reset_link(email, client, lang, &*self.links)).await
    }

    /// `--email-sign-in` is on; otherwise its endpoints are not there.
    fn email_sign_in_on(&self) -> Result<(), CoreError> {
        if self.settings.email_sign_in {
            Ok(())
        } else {
            Err(CoreError::NotFound("sign-in by mailed code"))
        }
    }

    /// Mails a sign-in code and link when `email` belongs to an enabled
    /// account (`--email-sign-in`); nothing otherwise, in the same time.
    #[tracing::instrument(skip_all)]
    pub async fn request_email_sign_in(
        &self,
        email: &str,
        client: Option<IpAddr>,
        lang: Lang,
    ) -> Result<(), CoreError> {
        self.email_sign_in_on()?;
        same_answer_in_same_time(self.send_sign_in_code(email, client, lang)).await
    }

    async fn send_sign_in_code(
        &self,
        email: &str,
        client: Option<IpAddr>,
        lang: Lang,
    ) -> Result<(), CoreError> {
        let Some((account, address)) = self.mail_recipient(email, client).await? else {
            return Ok(());
        };
        let purpose = crate::store::VerificationPurpose::SignIn;
        let (record, mail, _) = self
            .new_verification(&account.id, &address, purpose, false, lang, &*self.links)
            .await?;
        self.store.issue_verification(&record, &[mail]).await?;
        self.mail_wake.notify_one();
        Ok(())
    }

    /// Signs in with a mailed sign-in code (`--email-sign-in`); an account
    /// with a second factor still needs it.
    pub async fn email_sign_in(
        &self,
        email: &str,
        code: &str,
        device: crate::app::Device,
    ) -> Result<crate::app::SignedIn, CoreError> {
        self.email_sign_in_on()?;
        self.verify_email_code(email, None, code, device, crate::app::LoginPolicy::NATIVE)
            .await
    }

    /// Signs in with the token of a mailed sign-in link.
    pub async fn email_sign_in_link(
        &self,
        token: &str,
        device: crate::app::Device,
    ) -> Result<crate::app::SignedIn, CoreError> {
        self.email_sign_in_on()?;
        self.verify_email_token(token, device).await
    }

    /// Mails a reset link; `NotFound` when no enabled account has the
    /// address (for dialects whose seed says so).
    pub async fn send_reset_link(
        &self,
        email: &str,
        client: Option<IpAddr>,
        lang: Lang,
        links: &dyn MailedLinks,
    ) -> Result<(), CoreError> {
        let Some((account, address)) = self.mail_recipient(email, client).await? else {
            return Ok(());
        };
        let token = secrets::random_secret();
        let now = self.now();
        let record = PasswordResetRecord {
            digest: secrets::digest(&token),
            account_id: account.id.clone(),
            created_at: now,
            expires_at: now + RESET_LIFETIME,
            used_at: None,
        };
        let link = links.reset(&account.id, &token);
        let mail = self.compose(
            lang,
            &address,
            Mail::PasswordReset {
                email: &address,
                link: &link,
            },
        )?;
        self.store.insert_password_reset(&record, &mail).await?;
        self.mail_wake.notify_one();
        tracing::info!(account_id = %account.id, "password reset link queued");
        Ok(())
    }

    /// The enabled account of `email` and its address, for a mail asked
    /// for from `client` (a reset link, a sign-in code): `NotFound` when
    /// there is none; `None` when the account had its share of such mail.
    /// However many addresses ask, one inbox gets a bounded number; over
    /// it the answer is the same, so it tells nobody anything.
    async fn mail_recipient(
        &self,
        email: &str,
        client: Option<IpAddr>,
    ) -> Result<Option<(crate::domain::Account, String)>, CoreError> {
        self.admit(Limited::Recovery, client).await?;
        let Some(account) = self.account_by_email(email).await?.filter(|a| !a.disabled) else {
            return Err(CoreError::NotFound("account"));
        };
        let Some(address) = account.email.as_deref().map(str::to_owned) else {
            return Err(CoreError::NotFound("account"));
        };
        match self.admit_subject(Limited::RecoveryPerAccount, &account.id).await {
            Err(CoreError::TooManyAttempts { .. }) => {
                tracing::warn!(account_id = %account.id, "mail not sent: too many asked for");
                Ok(None)
            }
            Err(other) => Err(other),
            Ok(()) => Ok(Some((account, address))),
        }
    }

    /// Whether a reset token can still be used. With `account` (a link
    /// that names its account) the token must be that account's, and an
    /// unknown account is `NotFound`.
    pub async fn check_reset_token(
        &self,
        token: &str,
        account: Option<&AccountId>,
        client: Option<IpAddr>,
    ) -> Result<(), CoreError> {
        self.usable_reset(token, account, client).await.map(drop)
    }

    /// A live reset token, counted as a guess from `client`.
    async fn usable_reset(
        &self,
        token: &str,
        account: Option<&AccountId>,
        client: Option<IpAddr>,
    ) -> Result<PasswordResetRecord, CoreError> {
        self.admit(Limited::TokenGuesses, client).await?;
        if let Some(id) = account {
            self.account_required(id).await?;
        }
        let record = self.live_reset(token).await?;
        if account.is_some_and(|id| record.account_id != *id) {
            return Err(CoreError::ResetToken(ResetProblem::Invalid));
        }
        Ok(record)
    }

    async fn live_reset(&self, token: &str) -> Result<PasswordResetRecord, CoreError> {
        if token.trim().is_empty() || token.len() > 256 {
            return Err(CoreError::ResetToken(ResetProblem::Invalid));
        }
        let record = self
            .store
            .password_reset(&secrets::digest(token.trim()))
            .await?
            .ok_or(CoreError::ResetToken(ResetProblem::Invalid))?;
        if record.used_at.is_some() {
            return Err(CoreError::ResetToken(ResetProblem::Used));
        }
        if self.now() >= record.expires_at {
            return Err(CoreError::ResetToken(ResetProblem::Expired));
        }
        Ok(record)
    }

    /// Sets a new password with a reset token (of `account`, when the link
    /// names one): every session ends and the account is told by mail.
    #[tracing::instrument(skip_all)]
    pub async fn reset_password_with_token(
        &self,
        token: &str,
        account: Option<&AccountId>,
        password: &str,
        client: Option<IpAddr>,
        lang: Lang,
    ) -> Result<(), CoreError> {
        let record = self.usable_reset(token, account, client).await?;
        self.complete_reset(record, password, lang).await
    }

    async fn complete_reset(
        &self,
        record: PasswordResetRecord,
        password: &str,
        lang: Lang,
    ) -> Result<(), CoreError> {
        let password = Password::parse(password)?;
        let account = self.account_required(&record.account_id).await?;
        let now = self.now();
        let password_hash = self.hasher.hash(&password).await?;
        let address = account.email.as_deref().unwrap_or_default().to_owned();
        let notice = self.compose(lang, &address, Mail::PasswordChanged { email: &address })?;
        if !self
            .store
            .complete_password_reset(
                &record.digest,
                &account.id,
                &password_hash,
                now,
                &notice,
                &[self.audit_event(
                    AuditKind::PasswordReset,
                    Some(&account.id),
                    None,
                    json!({ "by": "link" }),
                )],
            )
            .await?
        {
            return Err(CoreError::ResetToken(ResetProblem::Used));
        }
        self.mail_wake.notify_one();
        tracing::info!(account_id = %account.id, "password reset; every session ended");
        Ok(())
    }
}

/// `work`'s answer, with "no such account" made the same as success, and
/// never sooner than `MAIL_FLOOR`: asking for a mail says nothing about
/// whether the address has an account, by its answer or by its time.
async fn same_answer_in_same_time(
    work: impl Future<Output = Result<(), CoreError>>,
) -> Result<(), CoreError> {
    match in_same_time(work).await {
        Err(CoreError::NotFound(_)) => Ok(()),
        other => other,
    }
}

/// `work`'s answer, never sooner than `MAIL_FLOOR`.
pub(super) async fn in_same_time<T>(work: impl Future<Output = T>) -> T {
    let started = Instant::now();
    let outcome = work.await;
    tokio::time::sleep_until((started + MAIL_FLOOR).into()).await;
    outcome
}
