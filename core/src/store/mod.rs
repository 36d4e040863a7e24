//! The on-device store: one SQLite file per profile (WAL, `synchronous=FULL`, foreign
//! keys on, `secure_delete` on), versioned migrations, one writer.
//!
//! Every secret column is sealed under a random 256-bit database key; the key itself is
//! stored only wrapped by the platform [`crate::keystore::SecretStore`]. A
//! canary sealed under the database key tells a lost or different wrapping key
//! ([`Error::WrappingKeyLost`], [`Error::WrongWrappingKey`]) apart from corruption.

mod chain;
mod cipher;
pub mod migrations;
mod records;

use std::{
    path::{Path, PathBuf},
    sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard},
    time::{SystemTime, UNIX_EPOCH},
};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use uuid::Uuid;
use zeroize::Zeroizing;

#[cfg(feature = "testing")]
pub use records::AuditEntry;
// Also named by tests (feature `testing`), which see the store as a public module.
#[cfg_attr(not(feature = "testing"), allow(unused_imports))]
pub use records::{
    AccountRow, ApprovalSide, Change, OutboxEntry, PendingApprovalRow, StoredItem, VaultRecord,
};

use crate::{
    crypto::SecretBytes,
    error::{Error, Result},
    keystore::{SecretStore, SecretStoreError},
};
use cipher::DbCipher;

const CANARY: &[u8] = b"vouch database canary v1";
const LABEL_PREFIX: &str = "vouch.db.";

/// An open profile database. Cheap to share behind an `Arc`; calls serialise on one
/// connection (SQLite's one-writer rule made explicit).
#[derive(Debug)]
pub struct Store {
    conn: Mutex<Connection>,
    /// The database key and its wrapping label; replaced by [`Store::wipe`].
    key: RwLock<DbKey>,
    path: PathBuf,
}

impl Store {
    /// Opens (creating if missing) the database at `path`, migrates it to the current
    /// schema, and unlocks it with the database key wrapped by `secrets`.
    pub fn open(path: impl AsRef<Path>, secrets: &dyn SecretStore) -> Result<Self> {
        Self::open_at(path.as_ref(), secrets, migrations::CURRENT_VERSION)
    }

    /// Creates a database at an older schema version. For migration tests only.
    #[doc(hidden)]
    #[cfg(feature = "testing")]
    pub fn create_at_version(
        path: impl AsRef<Path>,
        secrets: &dyn SecretStore,
        version: i64,
    ) -> Result<Self> {
        Self::open_at(path.as_ref(), secrets, version)
    }

    fn open_at(path: &Path, secrets: &dyn SecretStore, target: i64) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "secure_delete", "ON")?;
        restrict_file(path);

        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let fresh = migrations::version(&tx)? == 0;
        migrations::migrate(&tx, target)?;
        let key = if fresh {
            init_key(&tx, secrets)?
        } else {
            unlock_key(&tx, secrets)?
        };
        tx.commit()?;
        Ok(Self {
            conn: Mutex::new(conn),
            key: RwLock::new(key),
            path: path.to_path_buf(),
        })
    }

    /// The database file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the open file.
    #[cfg(feature = "testing")]
    pub fn schema_version(&self) -> Result<i64> {
        Ok(self
            .conn()?
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    /// Runs SQLite's `PRAGMA integrity_check`; `Ok(true)` when the file is sound.
    #[cfg(feature = "testing")]
    pub fn integrity_check(&self) -> Result<bool> {
        let ok: String = self
            .conn()?
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        Ok(ok == "ok")
    }

    /// Crypto-shredding: deletes every key, item, token, approval and the identity,
    /// checkpoints the WAL and VACUUMs so no old page survives, then replaces the database
    /// key with a fresh one and destroys the old wrapping key in the [`SecretStore`]: any
    /// sealed byte left on flash is unreadable. The store stays usable (empty).
    pub fn wipe(&self, secrets: &dyn SecretStore) -> Result<()> {
        let mut key = self.key.write().unwrap_or_else(|p| p.into_inner());
        let old_label = key.label.clone();
        {
            let mut conn = self.conn()?;
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute_batch(
                "DELETE FROM items; DELETE FROM vault_keys;
                 DELETE FROM vaults; DELETE FROM held_back; DELETE FROM identity;
                 DELETE FROM account; DELETE FROM pending_approvals; DELETE FROM outbox;
                 DELETE FROM devices; DELETE FROM audit_log; DELETE FROM meta;
                 DELETE FROM chain_links; DELETE FROM key_shares;",
            )?;
            let fresh = init_key(&tx, secrets)?;
            tx.commit()?;
            *key = fresh;
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
            conn.execute_batch("VACUUM")?;
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        }
        secrets.delete(&old_label)?;
        Ok(())
    }

    /// Reads a small non-secret setting (cursor, flag) from `meta`.
    pub fn setting(&self, name: &str) -> Result<Option<String>> {
        let v: Option<Vec<u8>> = self
            .conn()?
            .query_row(
                "SELECT value FROM meta WHERE key = ?1",
                [format!("setting.{name}")],
                |r| r.get(0),
            )
            .optional()?;
        v.map(|b| String::from_utf8(b).map_err(|_| Error::CorruptRow("meta")))
            .transpose()
    }

    /// Writes a small non-secret setting.
    pub fn set_setting(&self, name: &str, value: &str) -> Result<()> {
        self.conn()?.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
            params![format!("setting.{name}"), value.as_bytes()],
        )?;
        Ok(())
    }

    pub(crate) fn cipher(&self) -> RwLockReadGuard<'_, DbKey> {
        self.key.read().unwrap_or_else(|p| p.into_inner())
    }

    fn conn(&self) -> Result<MutexGuard<'_, Connection>> {
        // A poisoned lock means a panic mid-call elsewhere; SQLite rolled back its
        // transaction, so the connection is still consistent and can be reused.
        Ok(self.conn.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// The unlocked database key and the label its wrapped copy is stored under in the
/// [`SecretStore`].
#[derive(Debug)]
pub(crate) struct DbKey {
    /// Seals and opens the encrypted columns.
    pub(crate) cipher: DbCipher,
    /// The wrapping key's label (destroyed by a wipe).
    pub(crate) label: String,
}

fn init_key(tx: &rusqlite::Transaction<'_>, secrets: &dyn SecretStore) -> Result<DbKey> {
    let db_id = Uuid::new_v4().simple().to_string();
    let label = format!("{LABEL_PREFIX}{db_id}");
    let key = Zeroizing::new(crate::crypto::random_array::<32>()?);
    let wrapped = secrets.wrap(&label, &key[..])?;
    let cipher = DbCipher::new(key);
    let canary = cipher.seal("meta", "canary", "", CANARY)?;
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('db_id', ?1)",
        params![db_id.as_bytes()],
    )?;
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('wrapped_db_key', ?1)",
        params![wrapped],
    )?;
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('canary', ?1)",
        params![canary],
    )?;
    Ok(DbKey { cipher, label })
}

fn unlock_key(tx: &rusqlite::Transaction<'_>, secrets: &dyn SecretStore) -> Result<DbKey> {
    let meta = |k: &str| -> Result<Vec<u8>> {
        tx.query_row("SELECT value FROM meta WHERE key = ?1", [k], |r| r.get(0))
            .optional()?
            .ok_or(Error::CorruptRow("meta"))
    };
    let db_id = String::from_utf8(meta("db_id")?).map_err(|_| Error::CorruptRow("meta"))?;
    let label = format!("{LABEL_PREFIX}{db_id}");
    let key = match secrets.unwrap(&label, &meta("wrapped_db_key")?) {
        Ok(k) => SecretBytes::new(k),
        Err(SecretStoreError::KeyNotFound) => return Err(Error::WrappingKeyLost),
        Err(SecretStoreError::AuthenticationFailed) => return Err(Error::WrongWrappingKey),
        Err(e) => return Err(e.into()),
    };
    let key: [u8; 32] = key
        .as_slice()
        .try_into()
        .map_err(|_| Error::WrongWrappingKey)?;
    let cipher = DbCipher::new(Zeroizing::new(key));
    match cipher.open("meta", "canary", "", &meta("canary")?) {
        Ok(c) if c.as_slice() == CANARY => Ok(DbKey { cipher, label }),
        _ => Err(Error::WrongWrappingKey),
    }
}

fn restrict_file(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// Milliseconds since the Unix epoch (0 if the clock is before 1970).
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests;
