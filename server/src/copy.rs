//! `vouch-server --data DIR copy --to TARGET` (issue 21): moves a workspace from the SQLite
//! file in the data directory into an empty PostgreSQL database (or into the SQLite file of
//! another data directory), byte for byte, in one transaction on the target.
//!
//! - The source must not be served: the copy takes the data-directory lock a server takes.
//!   Its schema is brought to this binary's version first (a newer one is refused); it is
//!   then read in one snapshot on a read-only connection, never written.
//! - The tables come from the source's own schema, in foreign-key order; the target's
//!   tables (after its migration) must be the same set with the same columns, so a table
//!   or column added on one side only is refused by name, never skipped.
//! - The target must be empty (every table); the check, every row and the identity reset
//!   are one transaction: any failure leaves the target as it was.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

use rusqlite::{Connection, OpenFlags, types::ValueRef};

use crate::{
    StartError,
    db::{self, Db, OpenError},
    store::{StoreError, Tx, Value, params, postgres::PoolOptions},
};

/// Where a copy goes.
#[derive(Clone)]
pub enum Target {
    /// A PostgreSQL database, by URL (`postgres://USER:PASSWORD@HOST:PORT/DB`).
    Postgres(String),
    /// The SQLite file of another data directory (created if missing).
    Sqlite(PathBuf),
}

impl Target {
    /// A `postgres://` or `postgresql://` URL is a PostgreSQL database; anything else is
    /// a data directory.
    pub fn parse(s: &str) -> Self {
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Self::Postgres(s.to_owned())
        } else {
            Self::Sqlite(PathBuf::from(s))
        }
    }

    /// What an operator is shown: the URL without its user name and password, or the
    /// directory.
    pub fn display(&self) -> String {
        match self {
            Self::Postgres(url) => crate::cli::redact_url(url),
            Self::Sqlite(dir) => dir.display().to_string(),
        }
    }
}

/// Shows [`Target::display`]: never the password.
impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display())
    }
}

/// One table of the source's schema, as the copy moves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// Its name.
    pub name: String,
    /// Its columns, in the schema's order.
    pub columns: Vec<String>,
    /// The tables its foreign keys reference (each copied before it).
    pub references: Vec<String>,
    /// The column that is SQLite's rowid under another name (`INTEGER PRIMARY KEY`).
    pub rowid_alias: Option<String>,
}

/// Why a copy was refused or failed. In every case the target holds nothing of it.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// The data directory has no SQLite file (nothing to move).
    #[error("no database in {0} (--data)")]
    NoSource(PathBuf),
    /// A server is serving the source (or the target data directory).
    #[error("another vouch-server is using the data directory {0}: stop it first")]
    InUse(PathBuf),
    /// `--to` names the source's own data directory.
    #[error("the target is the source data directory")]
    SameDirectory,
    /// The source was written by a newer vouch-server.
    #[error(
        "the source database's schema (version {found}) is newer than this vouch-server's ({supported})"
    )]
    NewerSource {
        /// The source's `user_version`.
        found: i64,
        /// The version this binary migrates to.
        supported: usize,
    },
    /// A table of the target has rows.
    #[error("the target is not empty: table {0} has rows")]
    NotEmpty(String),
    /// The source's and the target's tables or columns differ.
    #[error("the schemas differ: {0}")]
    Schema(String),
    /// A stored value no column of the target can hold.
    #[error("table {table}, column {column}: {reason}")]
    Value {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// What is wrong with it (never the value).
        reason: &'static str,
    },
    /// The source or the target could not be opened.
    #[error("{0}")]
    Open(#[from] OpenError),
    /// A statement failed.
    #[error("{0}")]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for CopyError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Store(e.into())
    }
}

/// Rows copied per table, in the order they were copied.
pub type Copied = Vec<(String, u64)>;

/// Copies the SQLite file in `data` into `target` (see the module's guarantees). Returns
/// the rows per table once the target's transaction committed.
pub fn copy(data: &Path, target: &Target, opts: PoolOptions) -> Result<Copied, CopyError> {
    let file = data.join(db::DB_FILE);
    if !file.is_file() {
        return Err(CopyError::NoSource(data.into()));
    }
    if let Target::Sqlite(dir) = target
        && let (Ok(a), Ok(b)) = (data.canonicalize(), dir.canonicalize())
        && a == b
    {
        return Err(CopyError::SameDirectory);
    }
    let _source_lock = lock(data)?;
    let found: i64 = Connection::open_with_flags(&file, OpenFlags::SQLITE_OPEN_READ_ONLY)?
        .query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if usize::try_from(found).map_or(true, |v| v > db::SCHEMA_VERSION) {
        return Err(CopyError::NewerSource {
            found,
            supported: db::SCHEMA_VERSION,
        });
    }
    drop(Db::open(data)?); // brings the source's schema to this version
    let mut conn = Connection::open_with_flags(&file, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    match target {
        Target::Sqlite(dir) => {
            let db = Db::open(dir)?;
            let _target_lock = lock(dir)?;
            into(&db, &mut conn)
        }
        Target::Postgres(url) => {
            let rt = tokio::runtime::Runtime::new()
                .map_err(|e| StoreError::Config(format!("cannot start the runtime: {e}")))?;
            rt.block_on(async move {
                let db = Db::connect_unlistened(url, opts).await?;
                tokio::task::spawn_blocking(move || into(&db, &mut conn))
                    .await
                    .map_err(|e| StoreError::Config(format!("the copy stopped: {e}")))?
            })
        }
    }
}

/// The data-directory lock of `dir` (held until dropped).
fn lock(dir: &Path) -> Result<std::fs::File, CopyError> {
    crate::lock_data_dir(dir).map_err(|e| match e {
        StartError::DataDirInUse(d) => CopyError::InUse(d),
        StartError::Database(e) => CopyError::Open(e),
        e => CopyError::Store(StoreError::Config(e.to_string())),
    })
}

/// The source's tables (all but SQLite's own), each after every table it references.
pub fn tables(conn: &Connection) -> Result<Vec<Table>, CopyError> {
    let names: Vec<String> = conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND substr(name, 1, 7) <> 'sqlite_' ORDER BY name",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut left = BTreeMap::new();
    for name in &names {
        let cols: Vec<(String, String, i64)> = conn
            .prepare("SELECT name, type, pk FROM pragma_table_info(?1) ORDER BY cid")?
            .query_map([name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        let references: Vec<String> = conn
            .prepare("SELECT DISTINCT \"table\" FROM pragma_foreign_key_list(?1)")?
            .query_map([name], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let keys: Vec<&(String, String, i64)> = cols.iter().filter(|c| c.2 > 0).collect();
        let rowid_alias = match keys.as_slice() {
            [(col, ty, _)] if ty.eq_ignore_ascii_case("INTEGER") => Some(col.clone()),
            _ => None,
        };
        left.insert(
            name.clone(),
            Table {
                name: name.clone(),
                columns: cols.into_iter().map(|c| c.0).collect(),
                references: references
                    .into_iter()
                    .filter(|r| r != name && names.contains(r))
                    .collect(),
                rowid_alias,
            },
        );
    }
    let mut ordered: Vec<Table> = Vec::with_capacity(left.len());
    while !left.is_empty() {
        let next = left
            .values()
            .find(|t| {
                t.references
                    .iter()
                    .all(|r| ordered.iter().any(|o| &o.name == r))
            })
            .map(|t| t.name.clone());
        let Some(next) = next.and_then(|n| left.remove(&n)) else {
            let cycle: Vec<&str> = left.keys().map(String::as_str).collect();
            return Err(CopyError::Schema(format!(
                "the foreign keys of {} form a cycle",
                cycle.join(", ")
            )));
        };
        ordered.push(next);
    }
    Ok(ordered)
}

/// `name` as a quoted SQL identifier (the same on SQLite and PostgreSQL).
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Copies everything `conn` holds into `db` in one transaction on `db`.
fn into(db: &Db, conn: &mut Connection) -> Result<Copied, CopyError> {
    // One snapshot of the source for every table (it is never written here).
    let src = conn.transaction()?;
    let tables = tables(&src)?;
    let postgres = db.is_postgres();
    db.write_blocking(|tx| {
        let target = target_tables(tx, postgres)?;
        let source_names: BTreeSet<&str> = tables.iter().map(|t| t.name.as_str()).collect();
        let target_names: BTreeSet<&str> = target.keys().map(String::as_str).collect();
        if source_names != target_names {
            let only = |a: &BTreeSet<&str>, b: &BTreeSet<&str>| {
                let v: Vec<&str> = a.difference(b).copied().collect();
                if v.is_empty() {
                    "none".to_owned()
                } else {
                    v.join(", ")
                }
            };
            return Err(CopyError::Schema(format!(
                "tables only in the source: {}; only in the target: {}",
                only(&source_names, &target_names),
                only(&target_names, &source_names)
            )));
        }
        for name in &target_names {
            let sql = format!("SELECT 1 FROM {} LIMIT 1", quote(name));
            if tx.query_opt(&sql, params![], |_| Ok(()))?.is_some() {
                return Err(CopyError::NotEmpty((*name).to_owned()));
            }
        }
        let mut copied = Vec::with_capacity(tables.len());
        for t in &tables {
            let columns = target.get(&t.name).map_or(&[][..], Vec::as_slice);
            let missing: Vec<&str> = t
                .columns
                .iter()
                .filter(|c| !columns.contains(c))
                .map(String::as_str)
                .collect();
            let extra: Vec<&str> = columns
                .iter()
                .filter(|c| !t.columns.contains(c))
                .map(String::as_str)
                .collect();
            if !missing.is_empty() || extra.iter().any(|c| *c != "rowid") {
                return Err(CopyError::Schema(format!(
                    "table {}: columns only in the source: {:?}; only in the target: {:?}",
                    t.name, missing, extra
                )));
            }
            // PostgreSQL keeps SQLite's rowid where the statements order by it (a `rowid`
            // column); a SQLite target keeps every row's rowid.
            let with_rowid = if postgres {
                !extra.is_empty()
            } else {
                t.rowid_alias.is_none()
            };
            copied.push((t.name.clone(), copy_table(&src, tx, t, with_rowid)?));
        }
        if postgres {
            reset_identities(&src, tx, &tables)?;
        } else {
            copy_sqlite_sequence(&src, tx, &tables)?;
        }
        Ok(copied)
    })
}

/// The target's tables and their columns (without the PostgreSQL schema's version table
/// and SQLite's own tables).
fn target_tables(tx: &Tx<'_>, postgres: bool) -> Result<BTreeMap<String, Vec<String>>, CopyError> {
    let sql = if postgres {
        "SELECT c.table_name::text, c.column_name::text FROM information_schema.columns c \
         JOIN information_schema.tables t \
           ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
         WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' \
           AND c.table_name::text <> 'vouch_schema' \
         ORDER BY c.table_name, c.ordinal_position"
    } else {
        "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p \
         WHERE m.type = 'table' AND substr(m.name, 1, 7) <> 'sqlite_' ORDER BY m.name, p.cid"
    };
    let rows: Vec<(String, String)> =
        tx.query_all(sql, params![], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (table, column) in rows {
        out.entry(table).or_default().push(column);
    }
    Ok(out)
}

/// Copies the rows of `t` in rowid order; returns how many.
fn copy_table(
    src: &Connection,
    tx: &Tx<'_>,
    t: &Table,
    with_rowid: bool,
) -> Result<u64, CopyError> {
    let mut columns: Vec<String> = Vec::with_capacity(t.columns.len() + 1);
    if with_rowid {
        columns.push("rowid".into());
    }
    columns.extend(t.columns.iter().map(|c| quote(c)));
    let list = columns.join(", ");
    let select = format!("SELECT {list} FROM {} ORDER BY rowid", quote(&t.name));
    let marks: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
    let insert = format!(
        "INSERT INTO {} ({list}) VALUES ({})",
        quote(&t.name),
        marks.join(", ")
    );
    let mut st = src.prepare(&select)?;
    let mut rows = st.query([])?;
    let mut n = 0u64;
    while let Some(r) = rows.next()? {
        let mut values = Vec::with_capacity(columns.len());
        for i in 0..columns.len() {
            values.push(value(r, i).map_err(|reason| CopyError::Value {
                table: t.name.clone(),
                column: if with_rowid && i == 0 {
                    "rowid".into()
                } else {
                    t.columns[i - usize::from(with_rowid)].clone()
                },
                reason,
            })?);
        }
        tx.execute(&insert, values)?;
        n += 1;
    }
    Ok(n)
}

/// The source's column `i` as it is stored; text must be UTF-8 (as both targets' text is),
/// and no column of the schema holds floating-point values.
fn value(r: &rusqlite::Row<'_>, i: usize) -> Result<Value, &'static str> {
    Ok(
        match r.get_ref(i).map_err(|_| "the column cannot be read")? {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(n) => Value::Int(n),
            ValueRef::Real(_) => return Err("a floating-point value (no column holds one)"),
            ValueRef::Text(t) => {
                Value::Text(String::from_utf8(t.to_vec()).map_err(|_| "text that is not UTF-8")?)
            }
            ValueRef::Blob(b) => Value::Blob(b.to_vec()),
        },
    )
}

/// The next numbers SQLite's `AUTOINCREMENT` tables would hand out (`sqlite_sequence`:
/// never below a number once used, even if its row is gone).
fn sqlite_sequence(src: &Connection) -> Result<BTreeMap<String, i64>, CopyError> {
    let exists: bool = src.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence')",
        [],
        |r| r.get(0),
    )?;
    if !exists {
        return Ok(BTreeMap::new());
    }
    Ok(src
        .prepare("SELECT name, seq FROM sqlite_sequence")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?)
}

/// Sets every PostgreSQL identity column's next value past the copied rows (and past
/// SQLite's `AUTOINCREMENT` high-water mark: an event number once used is never reused).
fn reset_identities(src: &Connection, tx: &Tx<'_>, tables: &[Table]) -> Result<(), CopyError> {
    let used = sqlite_sequence(src)?;
    let identities: Vec<(String, String)> = tx.query_all(
        "SELECT table_name::text, column_name::text FROM information_schema.columns \
         WHERE table_schema = current_schema() AND is_identity = 'YES' \
         ORDER BY table_name, column_name",
        params![],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    for (table, column) in identities {
        let max: i64 = tx.query_one(
            &format!(
                "SELECT COALESCE(MAX({}), 0) FROM {}",
                quote(&column),
                quote(&table)
            ),
            params![],
            |r| r.get(0),
        )?;
        let is_rowid = column == "rowid"
            || tables
                .iter()
                .any(|t| t.name == table && t.rowid_alias.as_deref() == Some(column.as_str()));
        let high = if is_rowid {
            used.get(&table).copied().unwrap_or(0).max(max)
        } else {
            max
        };
        tx.query_one(
            "SELECT setval(pg_get_serial_sequence(?1, ?2), ?3, false)",
            params![quote(&table), column, high.saturating_add(1)],
            |r| r.get::<i64>(0),
        )?;
    }
    Ok(())
}

/// Carries SQLite's `AUTOINCREMENT` high-water marks over to a SQLite target.
fn copy_sqlite_sequence(src: &Connection, tx: &Tx<'_>, tables: &[Table]) -> Result<(), CopyError> {
    for (name, seq) in sqlite_sequence(src)? {
        if !tables.iter().any(|t| t.name == name) {
            continue;
        }
        tx.execute("DELETE FROM sqlite_sequence WHERE name = ?1", params![name])?;
        tx.execute(
            "INSERT INTO sqlite_sequence (name, seq) VALUES (?1, ?2)",
            params![name, seq],
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        drop(Db::open(dir.path()).unwrap());
        let conn = Connection::open(dir.path().join(db::DB_FILE)).unwrap();
        (dir, conn)
    }

    /// The copy's table list is the schema's: every table SQLite has (so a table added
    /// by a later step is copied, not skipped), each after the tables it references; and
    /// PostgreSQL's schema has each of them with the same columns.
    #[test]
    fn the_copy_takes_every_table_of_the_schema_in_foreign_key_order() {
        let (_dir, conn) = fresh();
        let all: BTreeSet<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let tables = tables(&conn).unwrap();
        let copied: BTreeSet<String> = tables.iter().map(|t| t.name.clone()).collect();
        let expected: BTreeSet<String> =
            all.into_iter().filter(|t| t != "sqlite_sequence").collect();
        assert_eq!(copied, expected);
        assert!(copied.len() >= 18, "{copied:?}");
        for (i, t) in tables.iter().enumerate() {
            for r in &t.references {
                assert!(
                    tables[..i].iter().any(|o| &o.name == r),
                    "{} is copied before {r}, which it references",
                    t.name
                );
            }
        }
        let pg = crate::store::postgres_schema::STEPS.join("\n");
        for t in &tables {
            let head = format!("CREATE TABLE {} (\n", t.name);
            let at = pg
                .find(&head)
                .unwrap_or_else(|| panic!("no table {} in the PostgreSQL schema", t.name));
            let body = &pg[at + head.len()..];
            let body = &body[..body.find("\n);").unwrap()];
            let pg_columns: BTreeSet<&str> = body
                .lines()
                .filter_map(|l| l.split_whitespace().next())
                .filter(|w| !w.starts_with("--") && !w.eq_ignore_ascii_case("PRIMARY"))
                .collect();
            let mut ours: BTreeSet<&str> = t.columns.iter().map(String::as_str).collect();
            if t.name == "console_sessions" {
                ours.insert("rowid");
            }
            assert_eq!(pg_columns, ours, "columns of {}", t.name);
        }
    }

    /// A source written by a newer server, or no source at all: refused before the
    /// target is touched (not even created).
    #[test]
    fn a_newer_or_missing_source_is_refused_before_the_target_is_touched() {
        let (source, conn) = fresh();
        conn.execute_batch("PRAGMA user_version = 999").unwrap();
        let target = tempfile::tempdir().unwrap();
        let to = Target::Sqlite(target.path().join("t"));
        let e = copy(source.path(), &to, PoolOptions::default()).unwrap_err();
        assert!(
            matches!(e, CopyError::NewerSource { found: 999, .. }),
            "{e}"
        );
        let e = copy(&target.path().join("none"), &to, PoolOptions::default()).unwrap_err();
        assert!(matches!(e, CopyError::NoSource(_)), "{e}");
        assert!(!target.path().join("t").exists());
        assert!(!target.path().join("none").exists());
    }

    /// A table only one side has is refused by name, on either side, and nothing is
    /// written.
    #[test]
    fn a_table_on_one_side_only_is_refused_not_skipped() {
        let (source, conn) = fresh();
        conn.execute_batch("INSERT INTO workspaces VALUES ('w', 'W')")
            .unwrap();
        let target = tempfile::tempdir().unwrap();
        drop(Db::open(target.path()).unwrap());
        let t = Connection::open(target.path().join(db::DB_FILE)).unwrap();
        t.execute_batch("CREATE TABLE later (x TEXT) STRICT")
            .unwrap();
        let to = Target::Sqlite(target.path().into());
        let e = copy(source.path(), &to, PoolOptions::default()).unwrap_err();
        assert!(
            e.to_string()
                .contains("tables only in the source: none; only in the target: later"),
            "{e}"
        );
        t.execute_batch("DROP TABLE later").unwrap();
        conn.execute_batch("CREATE TABLE later (x TEXT) STRICT; INSERT INTO later VALUES ('a')")
            .unwrap();
        let e = copy(source.path(), &to, PoolOptions::default()).unwrap_err();
        assert!(
            e.to_string()
                .contains("tables only in the source: later; only in the target: none"),
            "{e}"
        );
        let rows: i64 = t
            .query_row("SELECT count(*) FROM workspaces", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 0);
    }
}
