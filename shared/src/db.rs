//! The database handle every job, the CLI and the local stack reach Postgres through, safe
//! behind a transaction-mode pooler (Supabase's port 6543, PgBouncer) (design §14).
//!
//! A transaction-mode pooler lends a server connection for one transaction at a time, so two
//! things sqlx does by default break there: named prepared statements (cached per client
//! connection, but living on whichever server connection prepared them) and a statement
//! prepared in one round trip and bound in the next (the pooler may hand the second round trip
//! to another server). [`Db`] and [`Tx`] fix both in one place: in
//! [`ConnectionMode::Transaction`] every query they run is unnamed (`persistent = false`), and
//! a query outside an explicit transaction runs inside its own `BEGIN … COMMIT`, which pins it
//! to one server. Directly and through a session-mode pooler the connection is the client's
//! own, so statements stay named and cached: preparing each one again costs a round trip and
//! a plan every time (the drain benchmark's worker ran at half its rate).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::stream::{self, BoxStream};
use futures_util::{StreamExt as _, TryStreamExt as _};
use sqlx::postgres::{
    PgConnectOptions, PgPoolOptions, PgQueryResult, PgRow, PgStatement, PgTypeInfo,
};
use sqlx::{
    Connection as _, Describe, Either, Execute, Executor, PgConnection, PgPool, Postgres,
    Transaction,
};

use crate::config::Secret;

/// How the functions reach Postgres (`DATABASE_CONNECTION_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConnectionMode {
    /// Straight to Postgres (the local stack; Supabase's direct host, IPv6 only).
    #[default]
    Direct,
    /// Through a session-mode pooler (Supabase's port 5432 on the pooler host): each client
    /// holds a server connection for its whole life, so one per instance.
    Session,
    /// Through a transaction-mode pooler (Supabase's port 6543): statements are pinned.
    Transaction,
}

impl ConnectionMode {
    /// Every mode's name, as the template and `DATABASE_CONNECTION_MODE` spell it.
    pub const NAMES: [&'static str; 3] = ["direct", "session", "transaction"];

    /// The name of this mode.
    pub fn name(self) -> &'static str {
        match self {
            ConnectionMode::Direct => "direct",
            ConnectionMode::Session => "session",
            ConnectionMode::Transaction => "transaction",
        }
    }

    /// The pool size of one function instance: a session-mode pooler counts every client
    /// connection against its pool, so an instance keeps one (design §14).
    pub fn pool_size(self, configured: u32) -> u32 {
        match self {
            ConnectionMode::Session => 1,
            ConnectionMode::Direct | ConnectionMode::Transaction => configured.max(1),
        }
    }
}

impl fmt::Display for ConnectionMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ConnectionMode {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim() {
            "direct" => Ok(ConnectionMode::Direct),
            "session" => Ok(ConnectionMode::Session),
            "transaction" => Ok(ConnectionMode::Transaction),
            other => Err(format!(
                "expected one of {}, not {other:?}",
                ConnectionMode::NAMES.join(", ")
            )),
        }
    }
}

/// The pool, with the connection mode it was built for.
#[derive(Debug, Clone)]
pub struct Db {
    pool: PgPool,
    mode: ConnectionMode,
    per_statement: bool,
}

impl Db {
    /// Builds the pool once at init. It connects lazily so a cold start never fails on a slow
    /// database; the first query waits at most `acquire_timeout` for a connection.
    ///
    /// # Errors
    /// The URL cannot be parsed.
    pub fn connect_lazy(
        url: &Secret,
        mode: ConnectionMode,
        max_connections: u32,
    ) -> Result<Db, sqlx::Error> {
        let options: PgConnectOptions = url.expose().parse()?;
        Ok(Db::connect_lazy_with(options, mode, max_connections))
    }

    /// [`Db::connect_lazy`] with parsed options.
    pub fn connect_lazy_with(
        options: PgConnectOptions,
        mode: ConnectionMode,
        max_connections: u32,
    ) -> Db {
        let pool = PgPoolOptions::new()
            .max_connections(mode.pool_size(max_connections))
            .acquire_timeout(Duration::from_secs(5))
            .connect_lazy_with(options);
        Db {
            pool,
            mode,
            per_statement: false,
        }
    }

    /// Holds a connection only for each statement: a session-mode pooler counts an idle
    /// client against its pool, so the functions that run a few statements per invocation (the
    /// orchestrator and the webhook) close it after each (design §14.2). In transaction mode
    /// every statement already gives its server connection back when it commits.
    pub fn per_statement(mut self) -> Db {
        self.per_statement = true;
        self
    }

    /// An existing pool (a test database's), used the way `mode` requires.
    pub fn from_pool(pool: PgPool, mode: ConnectionMode) -> Db {
        Db {
            pool,
            mode,
            per_statement: false,
        }
    }

    /// The connection mode.
    pub fn mode(&self) -> ConnectionMode {
        self.mode
    }

    /// The pool underneath, for what needs a whole session (migrations, which take a session
    /// advisory lock, run only on direct or session connections) or closing it.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Opens a transaction.
    ///
    /// # Errors
    /// No connection, or `BEGIN` failed.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        Ok(Tx {
            tx: self.pool.begin().await?,
            unnamed: self.unnamed(),
        })
    }

    /// Whether statements must be unnamed: only a transaction-mode pooler moves them between
    /// server connections.
    fn unnamed(&self) -> bool {
        self.mode == ConnectionMode::Transaction
    }

    /// Whether each statement outside a transaction gets its own connection or transaction.
    fn pinned(&self) -> bool {
        self.mode == ConnectionMode::Transaction
            || (self.per_statement && self.mode == ConnectionMode::Session)
    }

    /// Ends a statement's connection: a per-statement one is closed, not kept idle.
    async fn finish(&self, conn: sqlx::pool::PoolConnection<Postgres>) {
        if self.per_statement && self.mode == ConnectionMode::Session {
            // Closing is best effort: the statement already committed.
            let _ = conn.close().await;
        }
    }
}

/// A transaction, whose queries are unnamed in transaction mode.
#[derive(Debug)]
pub struct Tx {
    tx: Transaction<'static, Postgres>,
    unnamed: bool,
}

impl Tx {
    /// Commits.
    ///
    /// # Errors
    /// `COMMIT` failed.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }

    /// Rolls back.
    ///
    /// # Errors
    /// `ROLLBACK` failed.
    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }

    /// The connection, for `COPY` (a simple-protocol statement: nothing is prepared).
    pub fn copy_connection(&mut self) -> &mut PgConnection {
        &mut self.tx
    }
}

/// A query as the connection mode runs it: when `unnamed`, prepared, bound and executed in
/// the unnamed statement, which lives only until the next statement and is never cached by
/// name; otherwise as the query asks.
struct Statement<E> {
    query: E,
    unnamed: bool,
}

impl<'q, E: Execute<'q, Postgres>> Execute<'q, Postgres> for Statement<E> {
    fn sql(&self) -> &'q str {
        self.query.sql()
    }

    fn statement(&self) -> Option<&PgStatement<'q>> {
        self.query.statement()
    }

    fn take_arguments(
        &mut self,
    ) -> Result<Option<sqlx::postgres::PgArguments>, sqlx::error::BoxDynError> {
        self.query.take_arguments()
    }

    fn persistent(&self) -> bool {
        !self.unnamed && self.query.persistent()
    }
}

type Item = Either<PgQueryResult, PgRow>;

impl<'c> Executor<'c> for &'c Db {
    type Database = Postgres;

    fn fetch_many<'e, 'q: 'e, E>(self, query: E) -> BoxStream<'e, Result<Item, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        let query = Statement {
            query,
            unnamed: self.unnamed(),
        };
        if !self.pinned() {
            return self.pool.fetch_many(query);
        }
        // Pinned: the whole result is read inside the statement's own transaction.
        stream::once(async move {
            let mut conn = self.pool.acquire().await?;
            let mut tx = conn.begin().await?;
            let items: Vec<Item> = (&mut *tx).fetch_many(query).try_collect().await?;
            tx.commit().await?;
            self.finish(conn).await;
            Ok::<_, sqlx::Error>(stream::iter(items.into_iter().map(Ok)))
        })
        .try_flatten()
        .boxed()
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<PgRow>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        let query = Statement {
            query,
            unnamed: self.unnamed(),
        };
        if !self.pinned() {
            return self.pool.fetch_optional(query);
        }
        Box::pin(async move {
            let mut conn = self.pool.acquire().await?;
            let mut tx = conn.begin().await?;
            let row = (&mut *tx).fetch_optional(query).await?;
            tx.commit().await?;
            self.finish(conn).await;
            Ok(row)
        })
    }

    fn prepare_with<'e, 'q: 'e>(
        self,
        sql: &'q str,
        parameters: &'e [PgTypeInfo],
    ) -> BoxFuture<'e, Result<PgStatement<'q>, sqlx::Error>>
    where
        'c: 'e,
    {
        self.pool.prepare_with(sql, parameters)
    }

    fn describe<'e, 'q: 'e>(
        self,
        sql: &'q str,
    ) -> BoxFuture<'e, Result<Describe<Postgres>, sqlx::Error>>
    where
        'c: 'e,
    {
        self.pool.describe(sql)
    }
}

impl<'c> Executor<'c> for &'c mut Tx {
    type Database = Postgres;

    fn fetch_many<'e, 'q: 'e, E>(self, query: E) -> BoxStream<'e, Result<Item, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        let unnamed = self.unnamed;
        (&mut *self.tx).fetch_many(Statement { query, unnamed })
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<PgRow>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        let unnamed = self.unnamed;
        (&mut *self.tx).fetch_optional(Statement { query, unnamed })
    }

    fn prepare_with<'e, 'q: 'e>(
        self,
        sql: &'q str,
        parameters: &'e [PgTypeInfo],
    ) -> BoxFuture<'e, Result<PgStatement<'q>, sqlx::Error>>
    where
        'c: 'e,
    {
        (&mut *self.tx).prepare_with(sql, parameters)
    }

    fn describe<'e, 'q: 'e>(
        self,
        sql: &'q str,
    ) -> BoxFuture<'e, Result<Describe<Postgres>, sqlx::Error>>
    where
        'c: 'e,
    {
        (&mut *self.tx).describe(sql)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_and_size_the_pool() {
        assert_eq!("transaction".parse(), Ok(ConnectionMode::Transaction));
        assert_eq!(ConnectionMode::Session.pool_size(4), 1);
        assert_eq!(ConnectionMode::Transaction.pool_size(4), 4);
        assert_eq!(ConnectionMode::Direct.pool_size(0), 1);
        let err = "pooled".parse::<ConnectionMode>().unwrap_err();
        assert!(err.contains("direct, session, transaction"), "{err}");
    }
}
