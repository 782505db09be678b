//! The one shape of Klucznik's in-memory caches (live sessions, verified
//! tokens): a map behind a lock, with a ceiling on its size.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard};

pub struct BoundedMap<K, V> {
    entries: Mutex<HashMap<K, V>>,
    capacity: usize,
}

impl<K: Eq + Hash, V> BoundedMap<K, V> {
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    /// The map. A panic while it was held leaves nothing half-written worth
    /// keeping: it starts over empty rather than fail every caller.
    pub fn lock(&self) -> MutexGuard<'_, HashMap<K, V>> {
        self.entries.lock().unwrap_or_else(|poisoned| {
            let mut entries = poisoned.into_inner();
            entries.clear();
            entries
        })
    }

    /// Inserts into a locked map; at the ceiling, entries no longer
    /// `useful` go first, and everything if that is not enough.
    pub fn insert(&self, entries: &mut HashMap<K, V>, key: K, value: V, useful: impl FnMut(&V) -> bool) {
        if entries.len() >= self.capacity {
            let mut useful = useful;
            entries.retain(|_, value| useful(value));
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(key, value);
    }
}
