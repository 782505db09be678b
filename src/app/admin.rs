//! Administration: admins and the operator list, inspect, grant roles,
//! disable and set passwords.

use super::audit::{AuditKind, actor_id};
use super::{Actor, Core, CoreError};
use crate::domain::{Account, AccountId, Password, Role};
use crate::store::{AccountChange, AccountPage};

/// Tries of a role change whose account changed between read and write.
const ROLE_WRITE_TRIES: usize = 5;
use serde_json::json;

impl Core {
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

    pub async fn account(&self, actor: Actor<'_>, id: &AccountId) -> Result<Account, CoreError> {
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
        id: &AccountId,
        role: Role,
        granted: bool,
    ) -> Result<Account, CoreError> {
        Self::ensure_admin(actor)?;
        let kind = if granted {
            AuditKind::RoleGranted
        } else {
            AuditKind::RoleRevoked
        };
        let event = self.audit_event(kind, Some(id), actor_id(actor), json!({ "role": role.as_str() }));
        // Written only while the roles are still those read: a change made
        // meanwhile (another admin) is read again and kept.
        for _ in 0..ROLE_WRITE_TRIES {
            let mut account = self.account_required(id).await?;
            let from = account.roles.clone();
            if granted {
                account.grant(role);
            } else {
                account.revoke(role);
            }
            let change = AccountChange::Roles {
                from,
                to: account.roles.clone(),
            };
            let now = self.now();
            if self
                .store
                .update_account(id, &change, now, std::slice::from_ref(&event))
                .await?
            {
                account.updated_at = now;
                tracing::info!(account_id = %account.id, role = role.as_str(), granted, "role changed");
                return Ok(account);
            }
        }
        Err(CoreError::internal("the account's roles kept changing"))
    }

    /// Disables (ending every session) or enables an account.
    pub async fn set_disabled(
        &self,
        actor: Actor<'_>,
        id: &AccountId,
        disabled: bool,
    ) -> Result<Account, CoreError> {
        Self::ensure_admin(actor)?;
        let mut account = self.account_required(id).await?;
        account.disabled = disabled;
        account.updated_at = self.now();
        let change = AccountChange::Disabled(disabled);
        let kind = if disabled {
            AuditKind::AccountDisabled
        } else {
            AuditKind::AccountEnabled
        };
        let event = self.audit_event(kind, Some(&account.id), actor_id(actor), json!({}));
        self.store
            .update_account(id, &change, account.updated_at, &[event])
            .await?;
        if disabled {
            self.store
                .revoke_sessions_of(&account.id, None, self.now(), &[])
                .await?;
        }
        tracing::info!(account_id = %account.id, disabled, "account status changed");
        Ok(account)
    }

    /// Ends every session of an account (a lost laptop, a leaving
    /// employee), leaving the account usable: how many ended.
    pub async fn end_sessions_of(&self, actor: Actor<'_>, id: &AccountId) -> Result<u64, CoreError> {
        Self::ensure_admin(actor)?;
        let account = self.account_required(id).await?;
        let event = self.audit_event(
            AuditKind::SessionsRevoked,
            Some(&account.id),
            actor_id(actor),
            json!({}),
        );
        let ended = self
            .store
            .revoke_sessions_of(&account.id, None, self.now(), &[event])
            .await?;
        tracing::info!(account_id = %account.id, ended, "every session ended by an admin");
        Ok(ended)
    }

    /// Sets a password without knowing the old one (operator only); every
    /// session of the account ends.
    pub async fn reset_password(&self, actor: Actor<'_>, id: &AccountId, new: &str) -> Result<(), CoreError> {
        Self::ensure_admin(actor)?;
        let new = Password::parse(new)?;
        let account = self.account_required(id).await?;
        let change = AccountChange::Password {
            hash: self.hasher.hash(&new).await?,
            replacing: None,
        };
        let detail = json!({ "by": "admin" });
        let event = self.audit_event(
            AuditKind::PasswordReset,
            Some(&account.id),
            actor_id(actor),
            detail,
        );
        self.store
            .update_account(id, &change, self.now(), &[event])
            .await?;
        self.store
            .revoke_sessions_of(&account.id, None, self.now(), &[])
            .await?;
        Ok(())
    }
}
