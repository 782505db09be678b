//! The values a statement takes, as both databases take them (`Arg`,
//! `args![…]`), and numbered placeholders for lists of them.

/// A statement's parameter, as both databases take it.
#[derive(Clone)]
pub enum Arg {
    Text(Option<String>),
    Int(Option<i64>),
    Bool(bool),
}

impl From<&str> for Arg {
    fn from(value: &str) -> Self {
        Arg::Text(Some(value.to_owned()))
    }
}

impl From<&String> for Arg {
    fn from(value: &String) -> Self {
        Arg::Text(Some(value.clone()))
    }
}

impl From<String> for Arg {
    fn from(value: String) -> Self {
        Arg::Text(Some(value))
    }
}

impl From<Option<&str>> for Arg {
    fn from(value: Option<&str>) -> Self {
        Arg::Text(value.map(str::to_owned))
    }
}

impl From<&Option<String>> for Arg {
    fn from(value: &Option<String>) -> Self {
        Arg::Text(value.clone())
    }
}

impl From<Option<String>> for Arg {
    fn from(value: Option<String>) -> Self {
        Arg::Text(value)
    }
}

impl<K> From<&crate::domain::id::Id<K>> for Arg {
    fn from(value: &crate::domain::id::Id<K>) -> Self {
        Arg::Text(Some(value.to_string()))
    }
}

impl From<i64> for Arg {
    fn from(value: i64) -> Self {
        Arg::Int(Some(value))
    }
}

impl From<Option<i64>> for Arg {
    fn from(value: Option<i64>) -> Self {
        Arg::Int(value)
    }
}

impl From<bool> for Arg {
    fn from(value: bool) -> Self {
        Arg::Bool(value)
    }
}

/// The parameters `$1`, `$2`, … of a statement, in order.
macro_rules! args {
    ($($value:expr),* $(,)?) => {
        vec![$($crate::store::db::Arg::from($value)),*]
    };
}

pub(super) use args;

/// `$first, $first+1, …`: `count` numbered placeholders, for a list of
/// values bound one by one (`IN (…)`).
pub fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}
