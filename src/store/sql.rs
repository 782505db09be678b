//! `SqlStore`: the store over either database. Each aggregate's module
//! implements that aggregate's port for it (`impl Accounts for SqlStore`
//! in `accounts.rs`, …), beside its SQL.

use super::db::Db;
use super::live::PrincipalCache;
use super::sealing::KeySealer;

pub struct SqlStore {
    pub(super) db: Db,
    /// Seals private keys at rest, when a key-encryption key is set.
    pub(super) sealer: Option<KeySealer>,
    /// Recently read sessions and accounts; every write below that
    /// changes one forgets it.
    pub(super) live: PrincipalCache,
}

impl SqlStore {
    pub fn new(db: Db, sealer: Option<KeySealer>) -> Self {
        Self {
            db,
            sealer,
            live: PrincipalCache::default(),
        }
    }
}

/// Each port is implemented in its aggregate's module; together they are
/// the store.
impl crate::app::ports::Store for SqlStore {}
