//! The PostgreSQL back end of [`super::Tx`] (tokio-postgres through a deadpool pool).
//! Handlers' transactions run on the blocking pool (as SQLite's do); each statement is
//! driven to completion there on the server's runtime (`Handle::block_on`), so the same
//! closures serve both back ends.
//!
//! The dialect: the handlers' SQL is SQLite's, kept to what PostgreSQL reads the same
//! (`ON CONFLICT … DO UPDATE`, `RETURNING`, `lower()`); numbered placeholders `?N` become
//! `$N` here (`translate`). Columns: `BIGINT` for every integer (flags too), `BYTEA` for
//! blobs, a case-insensitive collation where SQLite says `COLLATE NOCASE`
//! (`super::postgres_schema`).

use deadpool_postgres::{
    Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime, Transaction,
};
use tokio::runtime::Handle;
use tokio_postgres::{
    IsolationLevel, NoTls,
    types::{IsNull, Kind, ToSql, Type, to_sql_checked},
};

use super::{Row, RowRef, StoreError, StoreResult, Value};

/// The advisory lock every writing transaction takes first: writes are serialised across
/// every replica, as `BEGIN IMMEDIATE` serialises them on SQLite (docs/DECISIONS.md). Its
/// wait is the metric `vouch_db_write_wait_seconds`.
pub const WRITE_LOCK: i64 = 0x766f_7563_6801;

/// How the pool is sized and how long one statement may run.
#[derive(Debug, Clone, Copy)]
pub struct PoolOptions {
    /// Connections held at most.
    pub size: usize,
    /// A statement running longer is cancelled by PostgreSQL (`statement_timeout`).
    pub statement_timeout: std::time::Duration,
}

/// Connections a server holds at most, unless told (`--database-pool-size`).
pub const DEFAULT_POOL_SIZE: usize = 16;
/// Seconds a statement may run, unless told (`--database-statement-timeout`).
pub const DEFAULT_STATEMENT_TIMEOUT_SECS: u64 = 30;

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            size: DEFAULT_POOL_SIZE,
            statement_timeout: std::time::Duration::from_secs(DEFAULT_STATEMENT_TIMEOUT_SECS),
        }
    }
}

/// A pool of connections to one PostgreSQL database.
#[derive(Clone)]
pub struct Postgres {
    pool: Pool,
    config: std::sync::Arc<tokio_postgres::Config>,
}

impl Postgres {
    /// Connects to `url` (`postgres://user:password@host:port/db`), and migrates the
    /// schema to this version (`super::postgres_schema`). Errors never carry the password.
    pub async fn connect(url: &str, opts: PoolOptions) -> StoreResult<Self> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|_| StoreError::Config("not a postgres:// URL".into()))?;
        let ms = opts.statement_timeout.as_millis();
        config.options(format!("-c statement_timeout={ms}"));
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(opts.size.max(1))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::Pool(e.to_string()))?;
        let me = Self {
            pool,
            config: std::sync::Arc::new(config),
        };
        let mut client = me.client().await?;
        super::postgres_schema::migrate(&mut client).await?;
        Ok(me)
    }

    /// The connection settings (for a connection outside the pool).
    pub fn config(&self) -> tokio_postgres::Config {
        (*self.config).clone()
    }

    /// A pooled connection (waits while all are in use).
    pub async fn client(&self) -> StoreResult<Object> {
        self.pool.get().await.map_err(|e| match e {
            deadpool_postgres::PoolError::Backend(e) => StoreError::Postgres(e),
            e => StoreError::Pool(e.to_string()),
        })
    }
}

/// Begins a transaction on `client`: a writing one takes [`WRITE_LOCK`] first; a read
/// is one read-only snapshot (`REPEATABLE READ`).
pub(crate) fn begin<'c>(
    rt: &Handle,
    client: &'c mut Object,
    write: bool,
) -> StoreResult<Transaction<'c>> {
    rt.block_on(async {
        let tx = if write {
            client.build_transaction().start().await?
        } else {
            client
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await?
        };
        if write {
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])
                .await?;
        }
        Ok(tx)
    })
}

/// Commits `tx`.
pub(crate) fn commit(rt: &Handle, tx: Transaction<'_>) -> StoreResult<()> {
    Ok(rt.block_on(tx.commit())?)
}

/// What PostgreSQL said (its message and SQLSTATE), not only the driver's "db error".
pub(crate) fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => match std::error::Error::source(e) {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        },
    }
}

/// The handlers' SQL as PostgreSQL's: `?N` → `$N` outside quoted literals; a parameter
/// tested with `IS NULL` / `IS NOT NULL` (the optional filters, `?2 IS NULL OR id = ?2`)
/// is cast to text there, so a NULL bound to it still has a type.
pub(crate) fn translate(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut quoted = false;
    let mut chars = sql.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '\'' {
            quoted = !quoted;
        }
        if c != '?' || quoted {
            out.push(c);
            continue;
        }
        out.push('$');
        let mut end = i + 1;
        while let Some((j, d)) = chars.peek().copied()
            && d.is_ascii_digit()
        {
            out.push(d);
            end = j + 1;
            chars.next();
        }
        let rest = &sql[end..];
        if rest.starts_with(" IS NULL") || rest.starts_with(" IS NOT NULL") {
            out.push_str("::text");
        }
    }
    out
}

fn refs(params: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
}

/// Prepares `sql` (cached per connection) with the parameters' types as bound: integers
/// are `BIGINT` and blobs `BYTEA` (so `?2 - ?3` or `?1 IS NULL` need no cast); text and
/// NULL are left to PostgreSQL to infer from their use.
async fn prepare(
    tx: &Transaction<'_>,
    sql: &str,
    params: &[Value],
) -> StoreResult<tokio_postgres::Statement> {
    let unspecified = Type::new("unspecified".into(), 0, Kind::Pseudo, "pg_catalog".into());
    let types: Vec<Type> = params
        .iter()
        .map(|v| match v {
            Value::Int(_) => Type::INT8,
            Value::Blob(_) => Type::BYTEA,
            Value::Text(_) | Value::Null => unspecified.clone(),
        })
        .collect();
    tx.prepare_typed_cached(&translate(sql), &types)
        .await
        .map_err(|e| {
            log::error!("PostgreSQL refused a statement: {}: {sql}", describe(&e));
            e.into()
        })
}

pub(super) fn execute(
    tx: &Transaction<'_>,
    rt: &Handle,
    sql: &str,
    params: &[Value],
) -> StoreResult<usize> {
    rt.block_on(async {
        let st = prepare(tx, sql, params).await?;
        let n = tx.execute(&st, &refs(params)).await?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    })
}

fn query(
    tx: &Transaction<'_>,
    rt: &Handle,
    sql: &str,
    params: &[Value],
) -> StoreResult<Vec<tokio_postgres::Row>> {
    rt.block_on(async {
        let st = prepare(tx, sql, params).await?;
        Ok(tx.query(&st, &refs(params)).await?)
    })
}

pub(super) fn query_opt<T>(
    tx: &Transaction<'_>,
    rt: &Handle,
    sql: &str,
    params: &[Value],
    f: impl FnOnce(&Row<'_>) -> StoreResult<T>,
) -> StoreResult<Option<T>> {
    query(tx, rt, sql, params)?
        .first()
        .map(|r| {
            f(&Row {
                inner: RowRef::Postgres(r),
            })
        })
        .transpose()
}

pub(super) fn query_all<T>(
    tx: &Transaction<'_>,
    rt: &Handle,
    sql: &str,
    params: &[Value],
    mut f: impl FnMut(&Row<'_>) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    query(tx, rt, sql, params)?
        .iter()
        .map(|r| {
            f(&Row {
                inner: RowRef::Postgres(r),
            })
        })
        .collect()
}

/// Whether PostgreSQL reads a text parameter or column of type `ty`.
fn is_text(ty: &Type) -> bool {
    <&str as ToSql>::accepts(ty)
}

pub(super) fn column(r: &tokio_postgres::Row, i: usize) -> StoreResult<Value> {
    let ty = r
        .columns()
        .get(i)
        .map(|c| c.type_().clone())
        .ok_or_else(|| StoreError::decode(i, "no such column"))?;
    let v = match ty {
        Type::BOOL => r
            .try_get::<_, Option<bool>>(i)?
            .map(|b| Value::Int(i64::from(b))),
        Type::INT2 => r
            .try_get::<_, Option<i16>>(i)?
            .map(|n| Value::Int(n.into())),
        Type::INT4 => r
            .try_get::<_, Option<i32>>(i)?
            .map(|n| Value::Int(n.into())),
        Type::INT8 => r.try_get::<_, Option<i64>>(i)?.map(Value::Int),
        Type::BYTEA => r.try_get::<_, Option<Vec<u8>>>(i)?.map(Value::Blob),
        ref t if is_text(t) => r.try_get::<_, Option<String>>(i)?.map(Value::Text),
        t => {
            return Err(StoreError::decode(
                i,
                format!("unsupported column type {t}"),
            ));
        }
    };
    Ok(v.unwrap_or(Value::Null))
}

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match (self, ty) {
            (Value::Null, _) => Ok(IsNull::Yes),
            (Value::Int(n), &Type::BOOL) => (*n != 0).to_sql(ty, out),
            (Value::Int(n), &Type::INT2) => i16::try_from(*n)?.to_sql(ty, out),
            (Value::Int(n), &Type::INT4) => i32::try_from(*n)?.to_sql(ty, out),
            (Value::Int(n), &Type::INT8) => n.to_sql(ty, out),
            (Value::Text(s), t) if is_text(t) => s.as_str().to_sql(ty, out),
            (Value::Blob(b), &Type::BYTEA) => b.as_slice().to_sql(ty, out),
            (v, t) => Err(format!("{} cannot bind to a {t} parameter", v.kind()).into()),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::translate;

    #[test]
    fn placeholders_are_numbered_for_postgres_outside_literals() {
        assert_eq!(
            translate("SELECT '?1' FROM t WHERE a = ?1 AND b = ?12"),
            "SELECT '?1' FROM t WHERE a = $1 AND b = $12"
        );
        assert_eq!(
            translate("WHERE (?2 IS NULL OR id = ?2) AND ?3 IS NOT NULL"),
            "WHERE ($2::text IS NULL OR id = $2) AND $3::text IS NOT NULL"
        );
    }
}
