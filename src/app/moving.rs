//! Moving accounts and members in and out in bulk (`klucznik import` and
//! `export`): the operator's, through the core like every other change, so
//! the import tool holds no store of its own.

use super::{Actor, Core, CoreError};
use crate::domain::{Account, Member, MemberChange};
use crate::store::{ImportCounts, MemberPage, OnConflict};

impl Core {
    /// Stores a batch of imported accounts as given (their foreign hashes
    /// were checked against the ceilings when read).
    pub async fn import_accounts(
        &self,
        actor: Actor<'_>,
        batch: &[Account],
        on_conflict: OnConflict,
    ) -> Result<ImportCounts, CoreError> {
        Self::ensure_admin(actor)?;
        Ok(self.store.import_accounts(batch, on_conflict).await?)
    }

    /// Stores a batch of imported members with their history entries.
    pub async fn import_members(
        &self,
        actor: Actor<'_>,
        batch: &[(Member, MemberChange)],
        on_conflict: OnConflict,
    ) -> Result<ImportCounts, CoreError> {
        Self::ensure_admin(actor)?;
        Ok(self.store.import_members(batch, on_conflict).await?)
    }

    /// Up to `limit` accounts after the id `after`, in id order (an export
    /// reads them all, page by page).
    pub async fn accounts_after(
        &self,
        actor: Actor<'_>,
        after: &str,
        limit: u64,
    ) -> Result<Vec<Account>, CoreError> {
        Self::ensure_admin(actor)?;
        Ok(self.store.accounts_after(after, limit).await?)
    }

    /// A page of the whole member register, for an export.
    pub async fn members_page(
        &self,
        actor: Actor<'_>,
        offset: u64,
        limit: u64,
    ) -> Result<MemberPage, CoreError> {
        Self::ensure_admin(actor)?;
        Ok(self.store.list_members(None, offset, limit).await?)
    }
}
