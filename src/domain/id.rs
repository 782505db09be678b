//! Typed ids: an account's id cannot be passed where a session's or a
//! member's is expected. On the wire and in the database each is a string.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;

/// The id of a `K` (`Account`, `Session`, `Member`): an opaque string.
pub struct Id<K> {
    value: String,
    kind: PhantomData<fn() -> K>,
}

/// Marks account ids.
pub enum AccountKind {}
/// Marks session ids.
pub enum SessionKind {}
/// Marks member ids.
pub enum MemberKind {}

pub type AccountId = Id<AccountKind>;
pub type SessionId = Id<SessionKind>;
pub type MemberId = Id<MemberKind>;

impl<K> Id<K> {
    /// A new id, time-ordered (UUID v7).
    pub fn generate() -> Self {
        Self::from(uuid::Uuid::now_v7().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.value
    }
}

impl<K> From<String> for Id<K> {
    fn from(value: String) -> Self {
        Self {
            value,
            kind: PhantomData,
        }
    }
}

impl<K> From<&str> for Id<K> {
    fn from(value: &str) -> Self {
        Self::from(value.to_owned())
    }
}

// Written out rather than derived: a derive would ask `K` for each trait.
impl<K> Clone for Id<K> {
    fn clone(&self) -> Self {
        Self::from(self.value.clone())
    }
}

impl<K> PartialEq for Id<K> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<K> Eq for Id<K> {}

impl<K> Hash for Id<K> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.value.hash(state);
    }
}

impl<K> PartialEq<str> for Id<K> {
    fn eq(&self, other: &str) -> bool {
        self.value == other
    }
}

impl<K> PartialEq<&str> for Id<K> {
    fn eq(&self, other: &&str) -> bool {
        self.value == *other
    }
}

impl<K> fmt::Debug for Id<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.value, f)
    }
}

impl<K> fmt::Display for Id<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

impl<K> serde::Serialize for Id<K> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.value)
    }
}

impl<'de, K> serde::Deserialize<'de> for Id<K> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self::from)
    }
}

impl<K> std::ops::Deref for Id<K> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.value
    }
}
