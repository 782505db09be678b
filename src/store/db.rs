//! The two databases behind one value: `Db` holds a SQLite or a PostgreSQL
//! pool and `Tx` a transaction on either. Every query is written once, in an
//! ordinary function of its aggregate's module, as SQL text and an `args![…]`
//! list; `Db` and `Tx` run it on whichever backend they hold (`on_pool!` /
//! `on_tx!` only pick the arm), so both compile the same statement (sqlx
//! accepts `$1` on both) and the two cannot drift apart.

use super::connection::{usable, without_needless_tls};
use super::{StoreError, classify};
use sqlx::SqlSafeStr;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::str::FromStr;
use std::time::Duration;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The writer checkpoints by itself only past this many pages of log (SQLite
/// would every thousand): a server's `checkpoint` keeps the log well under
/// it, and commands without a server (`klucznik user`, `import`) stay
/// bounded by it.
const WRITER_AUTOCHECKPOINT_PAGES: &str = "20000";

/// A pool on one of the two databases.
pub enum Db {
    Sqlite(SqlitePools),
    Postgres(PgPool),
}

/// SQLite takes one writer at a time: connections that race for the write
/// lock sleep in its busy handler (tens of milliseconds each time). So every
/// write goes through one connection, queued in order, and reads through
/// the others, which WAL never blocks.
pub struct SqlitePools {
    reader: SqlitePool,
    writer: SqlitePool,
    /// One connection for the checkpoints, so that they do not take the
    /// readers in turn five times a second and keep them all from idling.
    checkpointer: SqlitePool,
}

impl SqlitePools {
    /// The pool a statement runs on: plain `SELECT`s read, anything else
    /// (including `INSERT … RETURNING`) writes.
    fn for_statement(&self, sql: &str) -> &SqlitePool {
        let head = sql.trim_start().get(..6).unwrap_or_default();
        if head.eq_ignore_ascii_case("select") {
            &self.reader
        } else {
            &self.writer
        }
    }
}

/// Runs `$body` with `$pool` bound to the pool for statement `$sql`,
/// whichever database it is.
macro_rules! on_pool {
    ($db:expr, $sql:expr, |$pool:ident| $body:expr) => {
        match $db {
            $crate::store::db::Db::Sqlite(pools) => {
                let $pool = pools.for_statement($sql);
                $body
            }
            // A connection goes back to the pool without a round trip (see
            // vendor/README.md), so one the error shows broken is closed
            // here instead of being handed to the next request.
            $crate::store::db::Db::Postgres(pool) => match pool.acquire().await {
                Err(error) => Err(error),
                Ok(mut connection) => {
                    let $pool = &mut *connection;
                    let result = $body;
                    if let Err(error) = &result
                        && $crate::store::connection::breaks_connection(error)
                    {
                        connection.close_on_drop();
                    }
                    result
                }
            },
        }
    };
}

/// Runs `$body` with `$conn` bound to the transaction's connection.
macro_rules! on_tx {
    ($tx:expr, |$conn:ident| $body:expr) => {
        match $tx {
            $crate::store::db::Tx::Sqlite(tx) => {
                let $conn = &mut **tx;
                $body
            }
            $crate::store::db::Tx::Postgres(tx) => {
                let $conn = &mut **tx;
                $body
            }
        }
    };
}

pub(super) use super::args::args;
pub use super::args::{Arg, placeholders};

/// A statement that takes parameters.
trait Bind<'q, DB: sqlx::Database>: Sized
where
    Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    bool: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    fn text(self, value: Option<String>) -> Self;
    fn int(self, value: Option<i64>) -> Self;
    fn boolean(self, value: bool) -> Self;

    /// Binds `args` in order, as `$1`, `$2`, …
    fn args(self, args: Vec<Arg>) -> Self {
        args.into_iter().fold(self, |query, arg| match arg {
            Arg::Text(value) => query.text(value),
            Arg::Int(value) => query.int(value),
            Arg::Bool(value) => query.boolean(value),
        })
    }
}

impl<'q, DB: sqlx::Database> Bind<'q, DB> for sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>
where
    Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    bool: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    fn text(self, value: Option<String>) -> Self {
        self.bind(value)
    }
    fn int(self, value: Option<i64>) -> Self {
        self.bind(value)
    }
    fn boolean(self, value: bool) -> Self {
        self.bind(value)
    }
}

/// A row type both databases can read.
pub trait Row:
    for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
    + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
    + Send
    + Unpin
{
}

impl<T> Row for T where
    T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
        + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
        + Send
        + Unpin
{
}

impl Db {
    /// Runs a statement; how many rows it changed.
    pub async fn execute(&self, sql: impl SqlSafeStr + Send, args: Vec<Arg>) -> Result<u64, StoreError> {
        let sql = sql.into_sql_str();
        on_pool!(self, sql.as_str(), |pool| sqlx::query(sql.clone())
            .args(args)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))
        .map_err(classify)
    }

    pub async fn fetch_optional<R: Row>(
        &self,
        sql: impl SqlSafeStr + Send,
        args: Vec<Arg>,
    ) -> Result<Option<R>, StoreError> {
        let sql = sql.into_sql_str();
        on_pool!(self, sql.as_str(), |pool| sqlx::query(sql.clone())
            .args(args)
            .try_map(|row| R::from_row(&row))
            .fetch_optional(pool)
            .await)
        .map_err(classify)
    }

    pub async fn fetch_one<R: Row>(
        &self,
        sql: impl SqlSafeStr + Send,
        args: Vec<Arg>,
    ) -> Result<R, StoreError> {
        let sql = sql.into_sql_str();
        on_pool!(self, sql.as_str(), |pool| sqlx::query(sql.clone())
            .args(args)
            .try_map(|row| R::from_row(&row))
            .fetch_one(pool)
            .await)
        .map_err(classify)
    }

    pub async fn fetch_all<R: Row>(
        &self,
        sql: impl SqlSafeStr + Send,
        args: Vec<Arg>,
    ) -> Result<Vec<R>, StoreError> {
        let sql = sql.into_sql_str();
        on_pool!(self, sql.as_str(), |pool| sqlx::query(sql.clone())
            .args(args)
            .try_map(|row| R::from_row(&row))
            .fetch_all(pool)
            .await)
        .map_err(classify)
    }
}

impl Tx {
    /// Runs a batch's part (`batch::Statement`) inside the transaction.
    pub async fn run(&mut self, part: super::batch::Statement) -> Result<u64, StoreError> {
        self.execute(sqlx::AssertSqlSafe(part.sql), part.args).await
    }

    /// Runs a statement inside the transaction; how many rows it changed.
    pub async fn execute(&mut self, sql: impl SqlSafeStr + Send, args: Vec<Arg>) -> Result<u64, StoreError> {
        on_tx!(self, |conn| sqlx::query(sql)
            .args(args)
            .execute(conn)
            .await
            .map(|done| done.rows_affected()))
        .map_err(classify)
    }

    pub async fn fetch_optional<R: Row>(
        &mut self,
        sql: impl SqlSafeStr + Send,
        args: Vec<Arg>,
    ) -> Result<Option<R>, StoreError> {
        on_tx!(self, |conn| sqlx::query(sql)
            .args(args)
            .try_map(|row| R::from_row(&row))
            .fetch_optional(conn)
            .await)
        .map_err(classify)
    }
}

/// A transaction on one of the two databases.
pub enum Tx {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

impl Tx {
    pub async fn begin(db: &Db) -> Result<Self, StoreError> {
        Ok(match db {
            // IMMEDIATE takes the write lock at once: a transaction that
            // reads first cannot then fail to upgrade (another process, such
            // as `klucznik user`, may write to the same file).
            Db::Sqlite(pools) => Tx::Sqlite(
                pools
                    .writer
                    .begin_with("BEGIN IMMEDIATE")
                    .await
                    .map_err(classify)?,
            ),
            Db::Postgres(pool) => Tx::Postgres(pool.begin().await.map_err(classify)?),
        })
    }

    pub async fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await,
            Tx::Postgres(tx) => tx.commit().await,
        }
        .map_err(classify)
    }

    pub async fn rollback(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(tx) => tx.rollback().await,
            Tx::Postgres(tx) => tx.rollback().await,
        }
        .map_err(classify)
    }
}

impl Db {
    /// One SQLite file in WAL mode, created on first start.
    pub async fn sqlite(url: &str) -> Result<Self, StoreError> {
        // Switching a new file to WAL takes its lock before the busy
        // timeout applies: a second process opening the file at that
        // moment is refused at once, and tries again.
        let mut tries = 0;
        loop {
            match Self::open_sqlite(url).await {
                Err(StoreError::Unavailable(_)) if tries < 5 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(100 * tries)).await;
                }
                opened => return opened,
            }
        }
    }

    async fn open_sqlite(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Other(e.to_string()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL makes NORMAL durable against process crashes; only a power
            // loss can take back the last transactions.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5))
            // After a burst the log file is cut back to 64 MiB.
            .pragma("journal_size_limit", "67108864")
            // 1 MiB of pages per connection (SQLite's default is 2 MiB): the
            // hot reads are served from memory above it, the rest from the
            // operating system's file cache.
            .pragma("cache_size", "-1024");
        let writer = SqlitePoolOptions::new()
            .test_before_acquire(false)
            .before_acquire(|connection, meta| Box::pin(usable(connection, meta)))
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(
                options
                    .clone()
                    .pragma("wal_autocheckpoint", WRITER_AUTOCHECKPOINT_PAGES),
            )
            .await
            .map_err(classify)?;
        // Each connection keeps up to 1 MiB of pages: readers a quiet
        // server does not use are closed, so it shrinks back. The pool hands
        // out its idle connections in turn, so the few reads of a quiet
        // server (the key round's) keep every one of them from being idle
        // for 10 s; a lifetime closes them all the same.
        let reader = SqlitePoolOptions::new()
            .test_before_acquire(false)
            .before_acquire(|connection, meta| Box::pin(usable(connection, meta)))
            .max_connections(6)
            .min_connections(1)
            .idle_timeout(Duration::from_secs(10))
            .max_lifetime(Duration::from_secs(20))
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options.clone())
            .await
            .map_err(classify)?;
        let checkpointer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(5))
            .connect_lazy_with(options);
        Ok(Db::Sqlite(SqlitePools {
            reader,
            writer,
            checkpointer,
        }))
    }

    /// PostgreSQL, opened lazily: a database that is down at some later
    /// moment answers 503 and the pool reconnects by itself when it is back.
    pub fn postgres(url: &str) -> Result<Self, StoreError> {
        // A statement that runs longer than a request may is cut off (57014,
        // answered 503), and so is a transaction left idle by a dropped
        // request, so neither holds locks or a connection for long.
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Other(e.to_string()))?
            .options([
                ("statement_timeout", "10s"),
                ("idle_in_transaction_session_timeout", "30s"),
            ]);
        let options = without_needless_tls(options, url);
        let pool = PgPoolOptions::new()
            .test_before_acquire(false)
            .before_acquire(|connection, meta| Box::pin(usable(connection, meta)))
            .max_connections(16)
            // Well under the 5 s in which a request must learn the database is down.
            .acquire_timeout(Duration::from_secs(3))
            .connect_lazy_with(options);
        Ok(Db::Postgres(pool))
    }

    /// SQLite (the server calls it five times a second): copies the
    /// write-ahead log into the database file, and its sync, beside the
    /// writer on a connection of its own; then, in the writer's queue, what
    /// was written meanwhile (a few pages, a short sync), so that the log is
    /// all copied and the next write starts it again from the beginning.
    /// Left to the writer alone (SQLite's default, every thousand pages),
    /// the copying and syncing stalled commits 20–100 ms under load; left
    /// to the other connection alone, the log never starts again and grows
    /// by about 100 MB/s under a refresh flood. PostgreSQL checkpoints by
    /// itself.
    pub async fn checkpoint(&self) -> Result<(), StoreError> {
        let Db::Sqlite(pools) = self else {
            return Ok(());
        };
        for pool in [&pools.checkpointer, &pools.writer] {
            sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(pool)
                .await
                .map_err(classify)?;
        }
        Ok(())
    }

    /// SQLite: a consistent copy of the database at one moment, written to
    /// a new file while the server goes on serving (`VACUUM INTO` reads in
    /// one transaction). PostgreSQL has `pg_dump` for this.
    pub async fn backup(&self, path: &str) -> Result<(), StoreError> {
        match self {
            Db::Sqlite(pools) => sqlx::query("VACUUM INTO $1")
                .bind(path)
                .execute(&pools.reader)
                .await
                .map(drop)
                .map_err(classify),
            Db::Postgres(_) => Err(StoreError::Other(
                "on PostgreSQL back up with pg_dump (docs/operations.md)".into(),
            )),
        }
    }

    pub fn pool_use(&self) -> super::PoolUse {
        fn of<D: sqlx::Database>(pool: &sqlx::Pool<D>) -> super::PoolUse {
            super::PoolUse {
                open: pool.size(),
                idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
                max: pool.options().get_max_connections(),
            }
        }
        match self {
            Db::Sqlite(pools) => {
                let (writer, reader) = (of(&pools.writer), of(&pools.reader));
                super::PoolUse {
                    open: writer.open + reader.open,
                    idle: writer.idle + reader.idle,
                    max: writer.max + reader.max,
                }
            }
            Db::Postgres(pool) => of(pool),
        }
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        on_pool!(self, "SELECT 1", |pool| sqlx::query("SELECT 1")
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))
        .map(|_| ())
        .map_err(classify)
    }

    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            Db::Sqlite(pools) => {
                // PostgreSQL's migrator takes a lock; SQLite's does not, so
                // of two processes migrating one file at once, one fails
                // (each migration is a transaction: nothing half-applied).
                // Running again skips what the other applied.
                let mut tries = 0;
                loop {
                    match SQLITE_MIGRATIONS.run(&pools.writer).await {
                        Err(_) if tries < 5 => {
                            tries += 1;
                            tokio::time::sleep(std::time::Duration::from_millis(100 * tries)).await;
                        }
                        done => break done,
                    }
                }
            }
            Db::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await,
        }
        .map_err(|e| match e {
            sqlx::migrate::MigrateError::Execute(inner) => classify(inner),
            other => StoreError::Other(other.to_string()),
        })
    }
}
