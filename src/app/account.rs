//! A user's own account: username and password.

use super::audit::AuditKind;
use super::hashing::Verdict;
use super::{Core, CoreError, LONGEST_PASSWORD_BYTES, Principal, account_write_error};
use crate::domain::{Account, AccountId, Password, Username, UsernameLength};
use serde_json::json;

impl Core {
    /// Sets the username the user chose.
    /// `length` is the core's default or an API's narrower bounds.
    pub async fn set_username(
        &self,
        account_id: &AccountId,
        raw: &str,
        length: UsernameLength,
    ) -> Result<Account, CoreError> {
        let username = Username::parse_with_length(raw, length)?;
        let mut account = self.account_required(account_id).await?;
        account.username = Some(username.as_str().to_owned());
        account.custom_username = true;
        account.updated_at = self.now();
        self.store
            .update_account(&account, &[])
            .await
            .map_err(account_write_error)?;
        Ok(account)
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
        let event = self.audit_event(AuditKind::PasswordChanged, Some(&account.id), None, json!({}));
        self.store.update_account(&account, &[event]).await?;
        let keep = Some(&principal.session.id);
        self.store
            .revoke_sessions_of(&account.id, keep, self.now(), &[])
            .await?;
        tracing::info!(account_id = %account.id, "password changed");
        Ok(())
    }

    /// The account as it is now (a session's copy may be older).
    pub async fn account_for(&self, id: &AccountId) -> Result<Account, CoreError> {
        self.account_required(id).await
    }

    pub(super) async fn account_required(&self, id: &AccountId) -> Result<Account, CoreError> {
        self.store
            .account_by_id(id)
            .await?
            .ok_or(CoreError::NotFound("account"))
    }
}
