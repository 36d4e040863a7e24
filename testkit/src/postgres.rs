//! The PostgreSQL pass of the test suites: with [`ENV`] set to a PostgreSQL server's URL
//! (`scripts/postgres-tests.sh` starts a throwaway cluster and sets it), every
//! [`crate::TestServer`] serves from a database of its own there (`--database URL`)
//! instead of the SQLite file in its data directory. The database belongs to the data
//! directory (one per directory, created on first use), so a restart, a second server or
//! an admin command on the same directory meet the same data, as they do on SQLite. There a
//! `TestServer` runs [`crate::PG_REPLICAS`] replicas on that database behind a round-robin
//! balancer (see [`crate::TestServer`]).

use std::{
    hash::{Hash, Hasher},
    path::Path,
    process::Command,
};

/// The variable naming the test cluster (`postgres://USER@HOST:PORT/postgres`).
pub const ENV: &str = "VOUCH_TEST_POSTGRES";

/// Whether this run is the PostgreSQL pass.
pub fn enabled() -> bool {
    std::env::var_os(ENV).is_some()
}

/// The database of the data directory `dir` on the test cluster, as a URL (created if
/// new); `None` outside the PostgreSQL pass.
///
/// # Panics
/// When [`ENV`] is set and the database cannot be created (no `psql`, cluster down): the
/// PostgreSQL pass fails loudly instead of falling back to SQLite.
pub fn database_for(dir: &Path) -> Option<String> {
    let base = std::env::var(ENV).ok()?;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    dir.hash(&mut h);
    let name = format!("vouch_{:016x}", h.finish());
    let _ = psql(
        &base,
        &format!(
            "SELECT 'CREATE DATABASE {name}' WHERE NOT EXISTS \
             (SELECT 1 FROM pg_database WHERE datname = '{name}') \\gexec"
        ),
    );
    let (server, _) = base
        .rsplit_once('/')
        .unwrap_or_else(|| panic!("{ENV} must end with /DATABASE: {base}"));
    Some(format!("{server}/{name}"))
}

/// `--database URL` for a `vouch-server` command on the data directory `dir` in the
/// PostgreSQL pass; nothing outside it.
pub fn flags(dir: &Path) -> Vec<String> {
    database_for(dir).map_or_else(Vec::new, |url| vec!["--database".into(), url])
}

/// The one blob `sql` reads from the database at `url` (`psql` prints it as `\x` and hex).
///
/// # Panics
/// When the query fails or does not print one blob.
pub fn query_blob(url: &str, sql: &str) -> Vec<u8> {
    let out = psql(url, sql);
    let hex = out
        .trim()
        .strip_prefix("\\x")
        .unwrap_or_else(|| panic!("not a blob: {out}"));
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Runs `sql` on the database at `url` with `psql`; what it prints (unaligned, tuples
/// only).
///
/// # Panics
/// When `psql` cannot run or the statement fails.
pub fn psql(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .arg(url)
        .args(["-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .map(|mut stdin| stdin.write_all(sql.as_bytes()))
                .transpose()?;
            child.wait_with_output()
        })
        .unwrap_or_else(|e| {
            panic!("{ENV} is set but psql cannot run ({e}): apt-get install postgresql")
        });
    assert!(
        out.status.success(),
        "psql: {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A connection of the test's own to the database at `url`, held as long as the client
/// lives (to hold a lock or a transaction open beside the servers; `psql` runs one
/// statement and leaves).
///
/// # Panics
/// When the database cannot be reached.
pub async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the test database: {e}"));
    tokio::spawn(connection);
    client
}
