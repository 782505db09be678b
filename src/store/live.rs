//! Live sessions with their accounts, kept in memory for at most a second:
//! an authenticated request then costs no query. Every write through this
//! store that touches a session or an account forgets what it changed
//! before it returns, so a sign-out, a disabling or a role change counts at
//! once on this instance; other instances sharing the database see it when
//! their copy ages out, within `FRESH_FOR`.

use crate::domain::{Account, Session};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// How stale another instance's change may be seen here.
pub const FRESH_FOR: Duration = Duration::from_secs(1);
/// Entries kept at most; past it, expired ones go, then all.
const CAPACITY: usize = 10_000;

#[derive(Default)]
pub struct PrincipalCache {
    entries: Mutex<HashMap<String, Cached>>,
    /// Bumped by every forget: a read that began before a write must not
    /// put back what the write just changed.
    generation: AtomicU64,
}

struct Cached {
    at: Instant,
    session: Session,
    account: Account,
}

impl PrincipalCache {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Cached>> {
        // A panic while holding the lock leaves nothing half-written worth
        // keeping; start over rather than fail every request.
        self.entries.lock().unwrap_or_else(|poisoned| {
            let mut entries = poisoned.into_inner();
            entries.clear();
            entries
        })
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
        if entries.len() >= CAPACITY {
            entries.retain(|_, cached| cached.at.elapsed() < FRESH_FOR);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        let key = session.id.to_string();
        entries.insert(
            key,
            Cached {
                at: Instant::now(),
                session,
                account,
            },
        );
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

    /// The session was used at `now` (its row says so too).
    pub fn touched(&self, session_id: &str, now: OffsetDateTime) {
        if let Some(cached) = self.entries().get_mut(session_id) {
            cached.session.last_used_at = cached.session.last_used_at.max(now);
        }
    }
}
