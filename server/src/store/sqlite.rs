//! The SQLite back end of [`super::Tx`]: statements are prepared through rusqlite's
//! statement cache and bound from [`Value`]s; the SQL is SQLite's own dialect.

use rusqlite::{
    Connection, ToSql,
    types::{ToSqlOutput, ValueRef},
};

use super::{Row, RowRef, StoreError, StoreResult, Value};

impl ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(i) => ValueRef::Integer(*i),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

pub(super) fn execute(c: &Connection, sql: &str, params: &[Value]) -> StoreResult<usize> {
    Ok(c.prepare_cached(sql)?
        .execute(rusqlite::params_from_iter(params))?)
}

pub(super) fn query_opt<T>(
    c: &Connection,
    sql: &str,
    params: &[Value],
    f: impl FnOnce(&Row<'_>) -> StoreResult<T>,
) -> StoreResult<Option<T>> {
    let mut st = c.prepare_cached(sql)?;
    let mut rows = st.query(rusqlite::params_from_iter(params))?;
    match rows.next()? {
        Some(r) => f(&Row {
            inner: RowRef::Sqlite(r),
        })
        .map(Some),
        None => Ok(None),
    }
}

pub(super) fn query_all<T>(
    c: &Connection,
    sql: &str,
    params: &[Value],
    mut f: impl FnMut(&Row<'_>) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let mut st = c.prepare_cached(sql)?;
    let mut rows = st.query(rusqlite::params_from_iter(params))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(f(&Row {
            inner: RowRef::Sqlite(r),
        })?);
    }
    Ok(out)
}

pub(super) fn column(r: &rusqlite::Row<'_>, i: usize) -> StoreResult<Value> {
    Ok(match r.get_ref(i)? {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(n) => Value::Int(n),
        ValueRef::Real(_) => return Err(StoreError::decode(i, "a floating-point value")),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    })
}
