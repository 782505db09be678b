//! Live sessions with their accounts, kept in memory for at most a second:
//! an authenticated request then costs no query. Every write through this
//! store that touches a session or an account forgets what it changed
//! before it returns, so a sign-out, a disabling or a role change counts at
//! once on this instance; other instances sharing the database see it when
//! their copy ages out, within `FRESH_FOR`.

use crate::bounded::BoundedMap;
use crate::domain::{Account, Session};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// How stale another instance's change may be seen here.
pub const FRESH_FOR: Duration = Duration::from_secs(1);
/// Entries kept at most; past it, stale ones go, then all.
const CAPACITY: usize = 10_000;

pub struct PrincipalCache {
    entries: BoundedMap<String, Cached>,
    /// Bumped by every forget: a read that began before a write must not
    /// put back what the write just changed.
    generation: AtomicU64,
}

struct Cached {
    at: Instant,
    session: Session,
    account: Account,
}

impl Default for PrincipalCache {
    fn default() -> Self {
        Self {
            entries: BoundedMap::new(CAPACITY),
            generation: AtomicU64::new(0),
        }
    }
}

impl PrincipalCache {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Cached>> {
        self.entries.lock()
    }

    /// The generation to hand back to [`Self::put`] after reading.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn get(&self, session_id: &str) -> Option<(Session, Account)> {
        let entries = self.entries();
        let cached = entries.get(session_id)?;
        (cached.at.elapsed() < FRESH_FOR).then(|| (cached.session.clone(), cached.account.clone()))
    }

    /// Keeps what was read, unless something was forgotten since
    /// `generation` was taken.
    pub fn put(&self, generation: u64, session: Session, account: Account) {
        let mut entries = self.entries();
        if self.generation() != generation {
            return;
        }
        let key = session.id.to_string();
        let cached = Cached {
            at: Instant::now(),
            session,
            account,
        };
        self.entries.insert(&mut entries, key, cached, |cached| {
            cached.at.elapsed() < FRESH_FOR
        });
    }

    pub fn forget_session(&self, session_id: &str) {
        let mut entries = self.entries();
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.remove(session_id);
    }

    pub fn forget_account(&self, account_id: &str) {
        let mut entries = self.entries();
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.retain(|_, cached| cached.account.id.as_str() != account_id);
    }

    /// Forgets everything (a bulk change whose accounts are not all known).
    pub fn forget_all(&self) {
        let mut entries = self.entries();
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.clear();
    }

    /// The session was used at `now` (its row says so too).
    pub fn touched(&self, session_id: &str, now: OffsetDateTime) {
        if let Some(cached) = self.entries().get_mut(session_id) {
            cached.session.last_used_at = cached.session.last_used_at.max(now);
        }
    }
}
