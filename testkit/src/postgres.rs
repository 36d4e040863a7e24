//! The PostgreSQL pass of the test suites: with [`ENV`] set to a PostgreSQL server's URL
//! (`scripts/postgres-tests.sh` starts a throwaway cluster and sets it), every
//! [`crate::TestServer`] serves from a fresh database of its own there
//! (`--database URL`) instead of the SQLite file in its data directory.

use std::{
    process::Command,
    sync::atomic::{AtomicUsize, Ordering},
};

/// The variable naming the test cluster (`postgres://USER@HOST:PORT/postgres`).
pub const ENV: &str = "VOUCH_TEST_POSTGRES";

/// Whether this run is the PostgreSQL pass.
pub fn enabled() -> bool {
    std::env::var_os(ENV).is_some()
}

/// A fresh, empty database on the test cluster, as a URL; `None` outside the PostgreSQL
/// pass.
///
/// # Panics
/// When [`ENV`] is set and the database cannot be created (no `psql`, cluster down): the
/// PostgreSQL pass fails loudly instead of falling back to SQLite.
pub fn fresh_database() -> Option<String> {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let base = std::env::var(ENV).ok()?;
    let name = format!(
        "vouch_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let out = Command::new("psql")
        .arg(&base)
        .args(["-q", "-v", "ON_ERROR_STOP=1", "-c"])
        .arg(format!("CREATE DATABASE {name}"))
        .output()
        .unwrap_or_else(|e| {
            panic!("{ENV} is set but psql cannot run ({e}): apt-get install postgresql")
        });
    assert!(
        out.status.success(),
        "{ENV}: cannot create database {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (server, _) = base
        .rsplit_once('/')
        .unwrap_or_else(|| panic!("{ENV} must end with /DATABASE: {base}"));
    Some(format!("{server}/{name}"))
}
