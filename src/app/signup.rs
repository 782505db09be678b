//! Sign-up: a new account, and its verification mail in the same transaction.

use super::audit::{AuditKind, actor_id};
use super::{Actor, Core, CoreError, NewAccount, Registered, account_write_error, non_empty};
use crate::domain::{Account, AccountId, Email, Invalid, Limited, Password, Role, Username};
use crate::mail::Lang;
use std::net::IpAddr;

impl Core {
    /// `--sign-up closed`: only admins and the operator make accounts
    /// (a visitor's sign-up, at any door, and an upstream sign-in's new
    /// identity are refused).
    pub(super) fn sign_up_open(&self, by: Actor<'_>) -> Result<(), CoreError> {
        if self.settings.sign_up_closed && Self::ensure_admin(by).is_err() {
            return Err(CoreError::SignUpClosed);
        }
        Ok(())
    }

    /// Creates an account; one with an email also gets a verification code
    /// and link, mailed in the same transaction. Roles beyond `user`, and an
    /// email taken as verified, are honoured only when an admin or the
    /// operator asks.
    #[tracing::instrument(skip_all)]
    pub async fn register(
        &self,
        new: NewAccount,
        by: Actor<'_>,
        client: Option<IpAddr>,
        lang: Lang,
    ) -> Result<Registered, CoreError> {
        let trusted = Self::ensure_admin(by).is_ok();
        self.sign_up_open(by)?;
        let email = non_empty(new.email.as_deref()).map(Email::parse).transpose()?;
        let username = non_empty(new.username.as_deref())
            .map(Username::parse)
            .transpose()?;
        if email.is_none() && username.is_none() {
            return Err(Invalid::IdentifierMissing.into());
        }
        let password = Password::parse(&new.password)?;
        if matches!(by, Actor::Visitor) {
            self.admit(Limited::SignUp, client).await?;
        }
        let now = self.now();
        let mut roles = if trusted { new.roles } else { Vec::new() };
        roles.push(Role::User);
        roles.sort();
        roles.dedup();
        let account = Account {
            id: AccountId::generate(),
            email: email.clone(),
            username: username.as_ref().map(|u| u.as_str().to_owned()),
            password_hash: self.hasher.hash(&password).await?,
            email_verified_at: (trusted && new.email_verified && email.is_some()).then_some(now),
            roles,
            custom_username: username.is_some(),
            disabled: false,
            created_at: now,
            updated_at: now,
            external_id: None,
        };
        let pending = match (&email, trusted && new.email_verified) {
            (Some(email), false) => Some(
                self.new_verification(
                    &account.id,
                    email.as_str(),
                    crate::store::VerificationPurpose::Signup,
                    false,
                    lang,
                    new.links.as_deref().unwrap_or(&*self.links),
                )
                .await?,
            ),
            _ => None,
        };
        let (record, mail, issued) = match pending {
            Some((record, mail, issued)) => (Some(record), Some(mail), Some(issued)),
            None => (None, None, None),
        };
        let detail = serde_json::json!({ "roles": super::role_names(&account) });
        let event = self.audit_event(AuditKind::SignUp, Some(&account.id), actor_id(by), detail);
        match self
            .store
            .insert_account(&account, record.as_ref(), mail.as_ref(), &[event])
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
            Err(error) => Err(account_write_error(error)),
        }
    }
}
