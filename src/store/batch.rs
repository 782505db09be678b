//! Writes that need nothing from one another, made together. On PostgreSQL
//! they go as one statement, each but the last a data-modifying `WITH`
//! part: a sign-in's or a sign-up's rows then cost one round trip and one
//! commit instead of a transaction's five or six, and one statement is as
//! atomic as a transaction. On SQLite they run in one transaction on the
//! writer, as one script (`first; second; …`, which SQLite runs statement
//! by statement, with values numbered across the whole script): three hand-
//! offs to the connection's thread (begin, script, commit) instead of one
//! per statement.
//!
//! The parts see one snapshot, not one another's changes (a foreign key to
//! a row another part inserts holds: it is checked at the statement's end),
//! so a part must not read what another writes, and no two parts may change
//! the same row.

use super::StoreError;
use super::db::{Arg, Db, Tx};
use sqlx::AssertSqlSafe;
use std::borrow::Cow;

/// One statement with its values, numbered from `$1`.
pub struct Statement {
    pub sql: Cow<'static, str>,
    pub args: Vec<Arg>,
}

impl Statement {
    pub fn new(sql: impl Into<Cow<'static, str>>, args: Vec<Arg>) -> Self {
        Self {
            sql: sql.into(),
            args,
        }
    }
}

#[derive(Default)]
pub struct Batch {
    parts: Vec<Statement>,
}

impl Batch {
    pub fn add(&mut self, part: Statement) {
        self.parts.push(part);
    }

    pub fn extend(&mut self, parts: impl IntoIterator<Item = Statement>) {
        self.parts.extend(parts);
    }

    /// Makes every write, or none.
    pub async fn run(mut self, db: &Db) -> Result<(), StoreError> {
        if self.parts.len() <= 1 {
            return match self.parts.pop() {
                Some(only) => db.execute(AssertSqlSafe(only.sql), only.args).await.map(drop),
                None => Ok(()),
            };
        }
        match db {
            // Only renumbered placeholders change in the text; values are bound.
            Db::Postgres(_) => {
                let (sql, args) = joined(self.parts);
                db.execute(AssertSqlSafe(sql), args).await.map(drop)
            }
            Db::Sqlite(_) => {
                let (sql, args) = script(self.parts);
                let mut tx = Tx::begin(db).await?;
                tx.execute(AssertSqlSafe(sql), args).await?;
                tx.commit().await
            }
        }
    }
}

/// `WITH w0 AS (first), w1 AS (second) last`, each part's placeholders
/// moved past those of the parts before it.
fn joined(mut parts: Vec<Statement>) -> (String, Vec<Arg>) {
    let last = parts.pop();
    let mut sql = String::from("WITH ");
    let mut args = Vec::new();
    for (index, part) in parts.into_iter().enumerate() {
        if index > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!("w{index} AS ("));
        renumber(&part.sql, args.len(), &mut sql);
        sql.push(')');
        args.extend(part.args);
    }
    if let Some(last) = last {
        sql.push(' ');
        renumber(&last.sql, args.len(), &mut sql);
        args.extend(last.args);
    }
    (sql, args)
}

/// `first; second; …`, each part's placeholders moved past those of the
/// parts before it.
fn script(parts: Vec<Statement>) -> (String, Vec<Arg>) {
    let mut sql = String::new();
    let mut args = Vec::new();
    for part in parts {
        if !sql.is_empty() {
            sql.push_str("; ");
        }
        renumber(&part.sql, args.len(), &mut sql);
        args.extend(part.args);
    }
    (sql, args)
}

/// Copies `sql` into `out` with every `$N` written as `$(N + offset)`. The
/// statements batched here hold no `$` but in placeholders.
fn renumber(sql: &str, offset: usize, out: &mut String) {
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c != '$' {
            continue;
        }
        let mut number = 0usize;
        let mut digits = 0;
        while let Some(digit) = chars.peek().and_then(|d| d.to_digit(10)) {
            number = number * 10 + digit as usize;
            digits += 1;
            chars.next();
        }
        if digits > 0 {
            out.push_str(&(number + offset).to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::db::args;

    #[test]
    fn parts_become_one_statement_with_their_placeholders_moved_on() {
        let parts = vec![
            Statement::new("INSERT INTO a (x, y) VALUES ($1, $2)", args!["1", "2"]),
            Statement::new("DELETE FROM b WHERE k IN ($1)", args!["3"]),
            Statement::new("INSERT INTO c (x) VALUES ($1) ON CONFLICT DO NOTHING", args!["4"]),
        ];
        let (sql, args) = joined(parts);
        assert_eq!(
            sql,
            "WITH w0 AS (INSERT INTO a (x, y) VALUES ($1, $2)), w1 AS (DELETE FROM b WHERE k IN ($3)) \
             INSERT INTO c (x) VALUES ($4) ON CONFLICT DO NOTHING"
        );
        assert_eq!(args.len(), 4);
    }

    #[test]
    fn a_script_numbers_its_values_across_its_statements() {
        let parts = vec![
            Statement::new("INSERT INTO a (x, y) VALUES ($1, $2)", args!["1", "2"]),
            Statement::new("DELETE FROM b WHERE k IN ($1)", args!["3"]),
        ];
        let (sql, args) = script(parts);
        assert_eq!(
            sql,
            "INSERT INTO a (x, y) VALUES ($1, $2); DELETE FROM b WHERE k IN ($3)"
        );
        assert_eq!(args.len(), 3);
    }

    #[test]
    fn renumbering_reads_whole_numbers() {
        let mut out = String::new();
        renumber("$1, $10, $2$3", 9, &mut out);
        assert_eq!(out, "$10, $19, $11$12");
    }
}
