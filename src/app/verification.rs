//! Email verification by code (bound to a verification id, 10 minutes, five
//! tries) or by link (single use), resends, and changes of email address.

use super::audit::AuditKind;
use super::links::MailedLinks;
use super::{
    Core, CoreError, Device, LoginPolicy, Principal, Proof, SignedIn, VerificationProblem,
    account_write_error, secrets,
};
use crate::domain::email::same_address;
use crate::domain::{Account, AccountId, Email, Limited};
use crate::mail::{Lang, Mail};
use crate::store::{AccountChange, OutboxMessage, VerificationPurpose, VerificationRecord};
use serde_json::json;
use std::net::IpAddr;
use time::{Duration, OffsetDateTime};

const CODE_LIFETIME: Duration = Duration::minutes(10);
const LINK_LIFETIME: Duration = Duration::hours(24);
const CODE_ATTEMPTS: u32 = 5;
const RESENDS_PER_HOUR: u32 = 5;
const CODE_ALPHABET: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const CODE_LENGTH: usize = 8;

/// A code just mailed, and the verification id it is bound to. Adapters
/// echo the code only where their seed shows it, and only in `--dev`.
#[derive(Clone)]
pub struct IssuedVerification {
    pub id: String,
    pub code: String,
}

/// Eight characters of `[0-9A-Z]`, uniformly drawn.
fn random_code() -> String {
    let mut code = String::with_capacity(CODE_LENGTH);
    while code.len() < CODE_LENGTH {
        for byte in secrets::random_bytes::<16>() {
            // 252 = 7 × 36: dropping larger bytes keeps every character equally likely.
            if byte < 252
                && code.len() < CODE_LENGTH
                && let Some(&c) = CODE_ALPHABET.get(usize::from(byte % 36))
            {
                code.push(char::from(c));
            }
        }
    }
    code
}

impl Core {
    /// A fresh code and link for `email`, with the mail that carries them.
    pub(super) async fn new_verification(
        &self,
        account_id: &str,
        email: &str,
        purpose: VerificationPurpose,
        resent: bool,
        lang: Lang,
        links: &dyn MailedLinks,
    ) -> Result<(VerificationRecord, OutboxMessage, IssuedVerification), CoreError> {
        let now = self.now();
        let code = random_code();
        let token = secrets::random_secret();
        let code_key = self.code_key().await?;
        let record = VerificationRecord {
            id: uuid::Uuid::now_v7().simple().to_string(),
            account_id: AccountId::from(account_id),
            purpose,
            email: email.to_owned(),
            code_digest: secrets::keyed_digest(code_key, &code),
            link_digest: secrets::digest(&token),
            attempts: 0,
            resent,
            created_at: now,
            code_expires_at: now + CODE_LIFETIME,
            // A sign-in link lives as long as its code.
            link_expires_at: now
                + if purpose == VerificationPurpose::SignIn {
                    CODE_LIFETIME
                } else {
                    LINK_LIFETIME
                },
            used_at: None,
            replaced_at: None,
        };
        let code_minutes = CODE_LIFETIME.whole_minutes();
        let mail = if purpose == VerificationPurpose::SignIn {
            let link = links.sign_in(&token);
            let mail = Mail::SignInCode {
                email,
                code: &code,
                link: &link,
                code_minutes,
            };
            self.compose(lang, email, mail)?
        } else {
            let link = links.verify(account_id, &token);
            let mail = Mail::Verification {
                email,
                code: &code,
                link: &link,
                code_minutes,
            };
            self.compose(lang, email, mail)?
        };
        let issued = IssuedVerification {
            id: record.id.clone(),
            code,
        };
        Ok((record, mail, issued))
    }

    /// Verifies by code and signs in. With `verification_id` the code must
    /// belong to that verification; without it, to the newest one of the
    /// address.
    #[tracing::instrument(skip_all)]
    pub async fn verify_email_code(
        &self,
        email: &str,
        verification_id: Option<&str>,
        code: &str,
        device: Device,
        policy: LoginPolicy,
    ) -> Result<SignedIn, CoreError> {
        let account = self
            .confirm_email_code(email, verification_id, code, device.address)
            .await?;
        // A mailed code proves the address, not the second factor.
        self.second_factor_gate(&account, policy).await?;
        self.start_session(account, policy, device, Proof::Mailed).await
    }

    /// Verifies by the mailed link's token and signs in.
    #[tracing::instrument(skip_all)]
    pub async fn verify_email_token(&self, token: &str, device: Device) -> Result<SignedIn, CoreError> {
        let account = self.confirm_email_token(token, device.address).await?;
        self.second_factor_gate(&account, LoginPolicy::NATIVE).await?;
        self.start_session(account, LoginPolicy::NATIVE, device, Proof::Mailed)
            .await
    }

    /// Verifies by code without signing in (the web page's form).
    pub async fn confirm_email_code(
        &self,
        email: &str,
        verification_id: Option<&str>,
        code: &str,
        client: Option<IpAddr>,
    ) -> Result<Account, CoreError> {
        self.admit(Limited::TokenGuesses, client).await?;
        let invalid = CoreError::Verification(VerificationProblem::Invalid);
        let record = match verification_id {
            Some(id) if id.len() <= 128 => self.store.verification_by_id(id).await?,
            Some(_) => None,
            None => self.store.live_verification_for_email(email).await?,
        };
        let Some(record) = record.filter(|r| same_address(&r.email, email)) else {
            return Err(invalid);
        };
        if record.used_at.is_some() || record.replaced_at.is_some() {
            return Err(invalid);
        }
        let now = self.now();
        if now >= record.code_expires_at {
            return Err(CoreError::Verification(VerificationProblem::Expired));
        }
        // Take the try before comparing, in one statement: of any number of
        // parallel guesses, at most CODE_ATTEMPTS are compared.
        let Some(attempts) = self
            .store
            .take_verification_attempt(&record.id, CODE_ATTEMPTS)
            .await?
        else {
            return Err(CoreError::Verification(VerificationProblem::TooManyAttempts));
        };
        let presented = code.trim().to_ascii_uppercase();
        if !secrets::matches_digest(self.code_key().await?, &presented, &record.code_digest) {
            return Err(if attempts >= CODE_ATTEMPTS {
                CoreError::Verification(VerificationProblem::TooManyAttempts)
            } else {
                invalid
            });
        }
        self.complete_verification(record, now).await
    }

    /// Verifies by the mailed link's token without signing in.
    pub async fn confirm_email_token(
        &self,
        token: &str,
        client: Option<IpAddr>,
    ) -> Result<Account, CoreError> {
        self.admit(Limited::TokenGuesses, client).await?;
        let record = self.live_link(token).await?;
        self.complete_verification(record, self.now()).await
    }

    /// The live verification a link's token belongs to.
    async fn live_link(&self, token: &str) -> Result<VerificationRecord, CoreError> {
        let invalid = CoreError::Verification(VerificationProblem::Invalid);
        if token.is_empty() || token.len() > 256 {
            return Err(invalid);
        }
        let Some(record) = self
            .store
            .verification_by_link(&secrets::digest(token.trim()))
            .await?
        else {
            return Err(invalid);
        };
        if record.used_at.is_some() || record.replaced_at.is_some() {
            return Err(invalid);
        }
        if self.now() >= record.link_expires_at {
            return Err(CoreError::Verification(VerificationProblem::Expired));
        }
        Ok(record)
    }

    async fn complete_verification(
        &self,
        record: VerificationRecord,
        now: OffsetDateTime,
    ) -> Result<Account, CoreError> {
        let mut account = self.account_required(&record.account_id).await?;
        match record.purpose {
            VerificationPurpose::Signup | VerificationPurpose::SignIn => {
                if !account.email.as_ref().is_some_and(|e| e.is(&record.email)) {
                    return Err(CoreError::Verification(VerificationProblem::Invalid));
                }
            }
            VerificationPurpose::EmailChange => account.email = Some(Email::stored(record.email.clone())),
        }
        let newly_verified = account.email_verified_at.is_none();
        // A sign-in code keeps the time the address was first verified.
        let keep_earlier = record.purpose == VerificationPurpose::SignIn;
        if !keep_earlier || newly_verified {
            account.email_verified_at = Some(now);
        }
        account.updated_at = now;
        let change = AccountChange::EmailVerified {
            new_email: (record.purpose == VerificationPurpose::EmailChange).then(|| record.email.clone()),
            at: now,
            keep_earlier,
        };
        let kind = match record.purpose {
            VerificationPurpose::Signup => Some(AuditKind::EmailVerified),
            VerificationPurpose::EmailChange => Some(AuditKind::EmailChanged),
            VerificationPurpose::SignIn => newly_verified.then_some(AuditKind::EmailVerified),
        };
        let events: Vec<_> = kind
            .map(|kind| self.audit_event(kind, Some(&account.id), None, json!({})))
            .into_iter()
            .collect();
        match self
            .store
            .complete_verification(&record.id, &account.id, &change, now, None, &events)
            .await
        {
            Ok(true) => {}
            Ok(false) => return Err(CoreError::Verification(VerificationProblem::Invalid)),
            Err(error) => return Err(account_write_error(error)),
        }
        tracing::info!(account_id = %account.id, purpose = record.purpose.as_str(), "email verified");
        if account.disabled {
            return Err(CoreError::AccountDisabled);
        }
        Ok(account)
    }

    /// Verifies by a link that names its account (uid-token's
    /// `/authorize/UID/TOKEN`), without signing in.
    pub async fn confirm_email_token_for(
        &self,
        account_id: &AccountId,
        token: &str,
        client: Option<IpAddr>,
    ) -> Result<Account, CoreError> {
        self.admit(Limited::TokenGuesses, client).await?;
        let account = self.account_required(account_id).await?;
        if account.email_verified_at.is_some() {
            return Err(CoreError::AlreadyVerified);
        }
        let record = self.live_link(token).await?;
        if account.id != record.account_id.as_str() {
            return Err(CoreError::Verification(VerificationProblem::Invalid));
        }
        self.complete_verification(record, self.now()).await
    }

    /// Mails a new code and link, replacing the earlier ones. At most five
    /// resends an hour; the first after sign-up always goes out. Whatever
    /// the answer, it takes the same time (an unverified account's work
    /// does not show).
    #[tracing::instrument(skip_all)]
    pub async fn resend_verification(
        &self,
        email: &str,
        client: Option<IpAddr>,
        lang: Lang,
    ) -> Result<IssuedVerification, CoreError> {
        super::recovery::in_same_time(self.resend_in_any_time(email, client, lang)).await
    }

    /// `resend_verification` answered the same for every address: whether
    /// it has an unverified account, and whether it is over its limit, is
    /// told neither by the answer nor by its time (the native API's 202).
    pub async fn resend_verification_quietly(
        &self,
        email: &str,
        client: Option<IpAddr>,
        lang: Lang,
    ) -> Result<(), CoreError> {
        match self.resend_verification(email, client, lang).await {
            Ok(_)
            | Err(
                CoreError::NotFound(_)
                | CoreError::AlreadyVerified
                | CoreError::TooManyResends
                | CoreError::Invalid(_),
            ) => Ok(()),
            Err(other) => Err(other),
        }
    }

    async fn resend_in_any_time(
        &self,
        email: &str,
        client: Option<IpAddr>,
        lang: Lang,
    ) -> Result<IssuedVerification, CoreError> {
        Email::parse(email)?;
        self.admit(Limited::Resend, client).await?;
        let account = self
            .account_by_email(email)
            .await?
            .ok_or(CoreError::NotFound("account"))?;
        if account.email_verified_at.is_some() {
            return Err(CoreError::AlreadyVerified);
        }
        let now = self.now();
        let address = account.email.as_deref().unwrap_or_default().to_owned();
        let (record, mail, issued) = self
            .new_verification(
                &account.id,
                &address,
                VerificationPurpose::Signup,
                true,
                lang,
                &*self.links,
            )
            .await?;
        let within_limit = self
            .store
            .issue_resend(&record, &mail, now - Duration::hours(1), RESENDS_PER_HOUR)
            .await?;
        if !within_limit {
            return Err(CoreError::TooManyResends);
        }
        self.mail_wake.notify_one();
        Ok(issued)
    }

    /// Starts a change of email: a code and link to the new address, a
    /// notice to the old one. The address changes only once verified.
    #[tracing::instrument(skip_all)]
    pub async fn request_email_change(
        &self,
        principal: &Principal,
        new_email: &str,
        password: Option<&str>,
        lang: Lang,
    ) -> Result<IssuedVerification, CoreError> {
        self.step_up(principal, password).await?;
        let email = Email::parse(new_email)?;
        // Before the look-up: each call mails twice, and its answer says
        // whether an address is taken.
        self.admit_subject(Limited::EmailChange, &principal.account.id)
            .await?;
        if let Some(other) = self.account_by_email(email.as_str()).await? {
            return Err(if other.id == principal.account.id {
                CoreError::Invalid(crate::domain::Invalid::Field {
                    field: "email",
                    reason: "this is already your address",
                })
            } else {
                CoreError::EmailTaken
            });
        }
        let (record, mail, issued) = self
            .new_verification(
                &principal.account.id,
                email.as_str(),
                VerificationPurpose::EmailChange,
                false,
                lang,
                &*self.links,
            )
            .await?;
        let mut mails = vec![mail];
        if let Some(old) = &principal.account.email {
            mails.push(self.compose(
                lang,
                old,
                Mail::EmailChangeNotice {
                    email: old,
                    new_email: email.as_str(),
                },
            )?);
        }
        self.store.issue_verification(&record, &mails).await?;
        self.mail_wake.notify_one();
        Ok(issued)
    }

    /// The account whose email (not username) is `email`, any case.
    pub(super) async fn account_by_email(&self, email: &str) -> Result<Option<Account>, CoreError> {
        let email = email.trim();
        if email.is_empty() || email.len() > 320 {
            return Ok(None);
        }
        Ok(self
            .store
            .account_by_login(email)
            .await?
            .filter(|a| a.email.as_ref().is_some_and(|e| e.is(email))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_eight_of_the_alphabet() {
        for _ in 0..100 {
            let code = random_code();
            assert_eq!(code.len(), 8);
            assert!(code.bytes().all(|b| CODE_ALPHABET.contains(&b)), "{code}");
        }
        assert_ne!(random_code(), random_code());
    }
}
