//! Versioned schema migrations, applied in order inside one transaction each.
//!
//! `PRAGMA user_version` holds the number of migrations applied. A migration is never
//! edited once shipped: changes go in a new entry at the end.

use rusqlite::Transaction;

use crate::error::{Error, Result};

/// The schema, one entry per version (index 0 brings a new file to version 1).
pub const MIGRATIONS: &[&str] = &[
    // v1: the first shipped schema.
    r#"
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value BLOB NOT NULL
    ) STRICT;
    CREATE TABLE identity (
        id          INTEGER PRIMARY KEY CHECK (id = 1),
        public_key  BLOB NOT NULL,
        secret_key  BLOB NOT NULL,          -- sealed under the database key
        created_at  INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE account (
        id            INTEGER PRIMARY KEY CHECK (id = 1),
        server_url    TEXT NOT NULL,
        state         TEXT NOT NULL,        -- enrollment state, JSON, no secrets
        secrets       BLOB,                 -- tokens, sealed under the database key
        updated_at    INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE devices (
        id          TEXT PRIMARY KEY,
        record      TEXT NOT NULL,          -- wire JSON of the device, no secrets
        updated_at  INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE vaults (
        id          TEXT PRIMARY KEY,
        name        TEXT NOT NULL,
        created_at  INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE vault_keys (
        vault_id    TEXT PRIMARY KEY REFERENCES vaults(id) ON DELETE CASCADE,
        sealed_key  BLOB NOT NULL           -- sealed under the database key
    ) STRICT;
    CREATE TABLE items (
        vault_id    TEXT NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,
        id          TEXT NOT NULL,
        version     INTEGER NOT NULL,
        sealed      BLOB,                   -- sealed under the vault key; NULL = deleted
        dirty       INTEGER NOT NULL DEFAULT 0,
        updated_at  INTEGER NOT NULL,
        PRIMARY KEY (vault_id, id)
    ) STRICT;
    CREATE TABLE pending_approvals (
        request_id  TEXT PRIMARY KEY,
        role        TEXT NOT NULL CHECK (role IN ('requester', 'approver')),
        sealed      BLOB NOT NULL,          -- sealed under the database key
        expires_at  INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE outbox (
        seq         INTEGER PRIMARY KEY AUTOINCREMENT,
        kind        TEXT NOT NULL,
        sealed      BLOB NOT NULL,          -- sealed under the database key
        created_at  INTEGER NOT NULL
    ) STRICT;
    "#,
    // v2: retry bookkeeping for the outbox, and the audit log.
    r#"
    ALTER TABLE outbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE outbox ADD COLUMN next_attempt_at INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE audit_log (
        seq     INTEGER PRIMARY KEY AUTOINCREMENT,
        at      INTEGER NOT NULL,
        event   TEXT NOT NULL,
        detail  TEXT NOT NULL               -- never secrets: ids, names, reasons
    ) STRICT;
    CREATE INDEX items_dirty ON items(dirty) WHERE dirty = 1;
    "#,
    // v3: Trust v2. Vault keys per (vault, epoch), never replaced; each item keeps the
    // highest version this device opened or wrote (`high`: no rollback below it) and
    // whether it is a sealed tombstone; records that did not open are held back, not
    // stored over a good copy. v1 approval rows (number matching) are dropped.
    r#"
    CREATE TABLE vault_keys_v3 (
        vault_id    TEXT NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,
        epoch       INTEGER NOT NULL,
        sealed_key  BLOB NOT NULL,          -- sealed under the database key
        PRIMARY KEY (vault_id, epoch)
    ) STRICT;
    INSERT INTO vault_keys_v3 (vault_id, epoch, sealed_key)
        SELECT vault_id, 0, sealed_key FROM vault_keys;
    DROP TABLE vault_keys;
    ALTER TABLE vault_keys_v3 RENAME TO vault_keys;
    ALTER TABLE items ADD COLUMN high INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE items ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
    UPDATE items SET high = version, deleted = (sealed IS NULL);
    CREATE TABLE held_back (
        vault_id    TEXT NOT NULL,
        item_id     TEXT NOT NULL,
        version     INTEGER NOT NULL,
        reason      TEXT NOT NULL,          -- why it was refused (no secrets)
        at          INTEGER NOT NULL,
        PRIMARY KEY (vault_id, item_id, version)
    ) STRICT;
    DELETE FROM pending_approvals;
    "#,
    // v4: the vouch chain. The user's chain as this device verified it (links in order;
    // the last is the highest head it has seen: a server serving less is a rollback), and
    // which key holders this device already sealed each vault key to.
    r#"
    CREATE TABLE chain_links (
        seq     INTEGER PRIMARY KEY,
        link    BLOB NOT NULL
    ) STRICT;
    CREATE TABLE key_shares (
        vault_id    TEXT NOT NULL,
        epoch       INTEGER NOT NULL,
        member_id   TEXT NOT NULL,
        PRIMARY KEY (vault_id, epoch, member_id)
    ) STRICT;
    "#,
];

/// The schema version this build writes.
pub const CURRENT_VERSION: i64 = MIGRATIONS.len() as i64;

/// Reads `PRAGMA user_version`.
pub(crate) fn version(tx: &Transaction<'_>) -> Result<i64> {
    Ok(tx.query_row("PRAGMA user_version", [], |r| r.get(0))?)
}

/// Brings the schema from its current version up to `target` inside `tx`.
pub(crate) fn migrate(tx: &Transaction<'_>, target: i64) -> Result<()> {
    let found = version(tx)?;
    if found > CURRENT_VERSION {
        return Err(Error::SchemaTooNew {
            found,
            supported: CURRENT_VERSION,
        });
    }
    for v in found..target.min(CURRENT_VERSION) {
        tx.execute_batch(MIGRATIONS[v as usize])?;
        tx.pragma_update(None, "user_version", v + 1)?;
    }
    Ok(())
}
