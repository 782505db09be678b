//! A user's own account: username, password, and the step-up that
//! changes to how it signs in ask for.

use super::audit::AuditKind;
use super::{Core, CoreError, Principal, account_write_error};
use crate::domain::{Account, AccountId, Password, Username, UsernameLength};
use crate::store::AccountChange;
use serde_json::json;
use time::Duration;

/// How long a sign-in by password or second factor stands in for the
/// password at a step-up.
const STEP_UP_WINDOW: Duration = Duration::minutes(5);

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
        let change = AccountChange::Username(username.as_str().to_owned());
        let now = self.now();
        let changed = self
            .store
            .update_account(account_id, &change, now, &[])
            .await
            .map_err(account_write_error)?;
        if !changed {
            return Err(CoreError::NotFound("account"));
        }
        self.account_required(account_id).await
    }

    /// Changes the password after checking the current one (counted like
    /// a sign-in's); every other session of the account ends.
    #[tracing::instrument(skip_all)]
    pub async fn change_password(
        &self,
        principal: &Principal,
        current: &str,
        new: &str,
    ) -> Result<(), CoreError> {
        let new = Password::parse(new)?;
        let account_id = &principal.account.id;
        if !self
            .check_own_password(account_id, current, principal.client)
            .await?
        {
            return Err(CoreError::WrongCurrentPassword);
        }
        let change = AccountChange::Password {
            hash: self.hasher.hash(&new).await?,
            replacing: None,
        };
        let event = self.audit_event(AuditKind::PasswordChanged, Some(account_id), None, json!({}));
        self.store
            .update_account(account_id, &change, self.now(), &[event])
            .await?;
        let keep = Some(&principal.session.id);
        self.store
            .revoke_sessions_of(account_id, keep, self.now(), &[])
            .await?;
        tracing::info!(account_id = %account_id, "password changed");
        Ok(())
    }

    /// The password, or a sign-in by password or second factor less than
    /// five minutes ago (a mailed code or link is neither). The password
    /// is counted like a sign-in's.
    pub(super) async fn step_up(
        &self,
        principal: &Principal,
        password: Option<&str>,
    ) -> Result<(), CoreError> {
        let strong_at = principal.session.strong_auth_at;
        if strong_at.is_some_and(|at| self.now() - at <= STEP_UP_WINDOW) {
            return Ok(());
        }
        let Some(password) = password.filter(|p| !p.is_empty()) else {
            return Err(CoreError::StepUpRequired);
        };
        if self
            .check_own_password(&principal.account.id, password, principal.client)
            .await?
        {
            Ok(())
        } else {
            Err(CoreError::StepUpRequired)
        }
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
