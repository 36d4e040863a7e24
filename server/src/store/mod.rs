//! The storage seam: one small query layer that every handler talks to, so no handler
//! names a database driver (docs/DECISIONS.md, "The server's storage seam").
//!
//! A [`Tx`] is one transaction: [`Tx::execute`], [`Tx::query_one`], [`Tx::query_opt`] and
//! [`Tx::query_all`] take SQL written once, with numbered placeholders (`?1`, `?2`, …),
//! and parameters built with `params!` (or an array of one type); a [`Row`] reads
//! typed columns by position. Values cross the seam as one [`Value`] enum. The back end
//! (SQLite, `store::sqlite`, or PostgreSQL, [`postgres`]) binds, runs and converts; what
//! differs between SQL dialects is handled there, not in the handlers.

pub mod postgres;
pub(crate) mod postgres_schema;
mod sqlite;
mod value;

pub use value::{FromValue, ToValue, Value};

/// Why a statement failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// [`Tx::query_one`] found no row.
    #[error("the query returned no row")]
    NoRow,
    /// A column did not convert to the Rust type asked for.
    #[error("column {column}: {reason}")]
    Decode {
        /// The column's position in the row.
        column: usize,
        /// What did not fit.
        reason: String,
    },
    /// SQLite refused the statement.
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL refused the statement, or could not be reached.
    #[error("{}", postgres::describe(.0))]
    Postgres(#[from] tokio_postgres::Error),
    /// No pooled connection could be had.
    #[error("database pool: {0}")]
    Pool(String),
    /// The database settings are unusable (a bad URL, a schema newer than this server).
    #[error("{0}")]
    Config(String),
}

impl StoreError {
    /// A column that did not convert.
    pub fn decode(column: usize, reason: impl Into<String>) -> Self {
        Self::Decode {
            column,
            reason: reason.into(),
        }
    }
}

/// The result of a statement.
pub type StoreResult<T> = Result<T, StoreError>;

/// A statement's parameters: what `params!` builds, or an array of one type.
pub trait Params {
    /// The parameters in placeholder order.
    fn values(self) -> Vec<Value>;
}

impl Params for &[&dyn ToValue] {
    fn values(self) -> Vec<Value> {
        self.iter().map(|v| v.to_value()).collect()
    }
}

impl Params for Vec<Value> {
    fn values(self) -> Vec<Value> {
        self
    }
}

impl<T: ToValue, const N: usize> Params for [T; N] {
    fn values(self) -> Vec<Value> {
        self.iter().map(ToValue::to_value).collect()
    }
}

/// The parameters of a statement, of any mix of types: `params![id, name, now()]`.
macro_rules! params {
    ($($x:expr),* $(,)?) => {
        &[$(&$x as &dyn $crate::store::ToValue),*] as &[&dyn $crate::store::ToValue]
    };
}
pub(crate) use params;

/// One transaction on the server database (begun, committed and rolled back by
/// [`crate::db::Db`]).
pub struct Tx<'a> {
    conn: Conn<'a>,
}

enum Conn<'a> {
    Sqlite(&'a rusqlite::Connection),
    Postgres(
        &'a deadpool_postgres::Transaction<'a>,
        &'a tokio::runtime::Handle,
    ),
}

impl<'a> Tx<'a> {
    /// A transaction already begun on a SQLite connection.
    pub(crate) fn sqlite(conn: &'a rusqlite::Connection) -> Self {
        Self {
            conn: Conn::Sqlite(conn),
        }
    }

    /// A PostgreSQL transaction, whose statements run to completion on `rt`.
    pub(crate) fn postgres(
        tx: &'a deadpool_postgres::Transaction<'a>,
        rt: &'a tokio::runtime::Handle,
    ) -> Self {
        Self {
            conn: Conn::Postgres(tx, rt),
        }
    }

    /// Runs a statement; returns how many rows it changed.
    pub fn execute(&self, sql: &str, params: impl Params) -> StoreResult<usize> {
        match self.conn {
            Conn::Sqlite(c) => sqlite::execute(c, sql, &params.values()),
            Conn::Postgres(tx, rt) => postgres::execute(tx, rt, sql, &params.values()),
        }
    }

    /// The first row of a query, read by `f`; [`StoreError::NoRow`] when there is none.
    pub fn query_one<T>(
        &self,
        sql: &str,
        params: impl Params,
        f: impl FnOnce(&Row<'_>) -> StoreResult<T>,
    ) -> StoreResult<T> {
        self.query_opt(sql, params, f)?.ok_or(StoreError::NoRow)
    }

    /// The first row of a query, read by `f`, if there is one.
    pub fn query_opt<T>(
        &self,
        sql: &str,
        params: impl Params,
        f: impl FnOnce(&Row<'_>) -> StoreResult<T>,
    ) -> StoreResult<Option<T>> {
        match self.conn {
            Conn::Sqlite(c) => sqlite::query_opt(c, sql, &params.values(), f),
            Conn::Postgres(tx, rt) => postgres::query_opt(tx, rt, sql, &params.values(), f),
        }
    }

    /// Every row of a query, each read by `f`, in the query's order.
    pub fn query_all<T>(
        &self,
        sql: &str,
        params: impl Params,
        f: impl FnMut(&Row<'_>) -> StoreResult<T>,
    ) -> StoreResult<Vec<T>> {
        match self.conn {
            Conn::Sqlite(c) => sqlite::query_all(c, sql, &params.values(), f),
            Conn::Postgres(tx, rt) => postgres::query_all(tx, rt, sql, &params.values(), f),
        }
    }
}

/// One row of a query's result.
pub struct Row<'r> {
    inner: RowRef<'r>,
}

enum RowRef<'r> {
    Sqlite(&'r rusqlite::Row<'r>),
    Postgres(&'r tokio_postgres::Row),
}

impl Row<'_> {
    /// The column at `i` (from 0) as a `T`.
    pub fn get<T: FromValue>(&self, i: usize) -> StoreResult<T> {
        let v = match &self.inner {
            RowRef::Sqlite(r) => sqlite::column(r, i)?,
            RowRef::Postgres(r) => postgres::column(r, i)?,
        };
        T::from_value(v, i)
    }
}
