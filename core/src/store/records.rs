//! Typed reads and writes of the store's tables. Secret columns go through the database
//! key; every multi-row change is one transaction.

use rusqlite::{OptionalExtension, Row, TransactionBehavior, params};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::{Store, now_ms};
use crate::{
    crypto::{DeviceIdentity, SecretBytes, VaultKey},
    error::{Error, Result},
};

/// A vault this device knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultRecord {
    /// Vault id (shared with the server).
    pub id: Uuid,
    /// Display name.
    pub name: String,
    /// Whether this device holds the vault's key.
    pub has_key: bool,
}

/// An item row: ciphertext sealed under the vault key, never plaintext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredItem {
    /// The vault holding it.
    pub vault_id: Uuid,
    /// The item id.
    pub item_id: Uuid,
    /// Version of this ciphertext.
    pub version: u64,
    /// `crypto::seal_item` output (a live item or a sealed tombstone); `None` only for a
    /// row forgotten after a lost conflict.
    pub sealed: Option<Vec<u8>>,
    /// A sealed tombstone (the item was deleted by a key holder).
    pub deleted: bool,
    /// Written locally and not yet acknowledged by the server.
    pub dirty: bool,
    /// The highest version this device opened or wrote for the item (tombstones
    /// included); a pulled record below it is a rollback and is refused. Kept across
    /// writes: a write never lowers it.
    pub high: u64,
}

/// One write of a [`Store::apply`] batch.
pub enum Change<'a> {
    /// Insert or replace an item row.
    Item(&'a StoredItem),
    /// Mark an item acknowledged by the server if it is still at `version`.
    ItemSynced {
        /// Vault id.
        vault_id: Uuid,
        /// Item id.
        item_id: Uuid,
        /// The version the server acknowledged.
        version: u64,
    },
    /// Store a received vault key for (vault, epoch), creating a placeholder vault row; a
    /// held key is never replaced (the caller refuses a different one first).
    VaultKey {
        /// Vault id.
        vault_id: Uuid,
        /// Key epoch.
        epoch: u32,
        /// The key.
        key: &'a VaultKey,
    },
    /// Replace a pending approval row's sealed payload.
    PendingApproval {
        /// Request id.
        request_id: Uuid,
        /// The new payload.
        payload: &'a [u8],
    },
    /// Append verified links to this device's copy of the vouch chain (positions must
    /// follow the stored ones; the caller verified the whole chain first).
    ChainLinks(&'a [crate::chain::Link]),
    /// Record a pulled item version that was refused (did not open, rollback, unsealed
    /// delete), with the reason; the local copy stays.
    HoldBack {
        /// Vault id.
        vault_id: Uuid,
        /// Item id.
        item_id: Uuid,
        /// The refused version.
        version: u64,
        /// Why (no secrets).
        reason: &'a str,
    },
    /// Create a vault with its key (sealed under the database key).
    NewVault {
        /// Vault id.
        id: Uuid,
        /// Name.
        name: &'a str,
        /// Its key.
        key: &'a VaultKey,
    },
    /// Drop a vault with everything held for it: its keys, items, held-back records and
    /// pull cursor (a deletion that opened under its key).
    DropVault(Uuid),
    /// Queue an operation for the server (the payload is sealed).
    Enqueue {
        /// Operation kind, e.g. `"put_item"`.
        kind: &'a str,
        /// Operation payload.
        payload: &'a [u8],
    },
    /// Remove a delivered operation.
    OutboxAck(i64),
    /// Set a setting.
    Setting {
        /// Setting name.
        name: &'a str,
        /// Its value.
        value: &'a str,
    },
}

/// A queued operation waiting to reach the server.
pub struct OutboxEntry {
    /// Queue position (monotonic).
    pub seq: i64,
    /// Operation kind, e.g. `"put_item"`.
    pub kind: String,
    /// The operation's payload, decrypted; zeroized on drop.
    pub payload: SecretBytes,
    /// Failed attempts so far.
    pub attempts: u32,
}

impl std::fmt::Debug for OutboxEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxEntry")
            .field("seq", &self.seq)
            .field("kind", &self.kind)
            .field("payload", &format_args!("<{} bytes>", self.payload.len()))
            .field("attempts", &self.attempts)
            .finish()
    }
}

/// The account row: server, enrollment state and sealed tokens.
pub struct AccountRow {
    /// Server base URL.
    pub server_url: String,
    /// Enrollment state as JSON (holds no secrets).
    pub state_json: String,
    /// The secrets blob (tokens), decrypted; zeroized on drop.
    pub secrets: Option<SecretBytes>,
}

impl std::fmt::Debug for AccountRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountRow")
            .field("server_url", &self.server_url)
            .field("state_json", &self.state_json)
            .field("secrets", &self.secrets.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Which side of an approval request a kept row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApprovalSide {
    /// This device asked (it shows the code).
    Requester,
    /// This device decides (it types the code).
    Approver,
}

impl ApprovalSide {
    fn as_str(self) -> &'static str {
        match self {
            Self::Requester => "requester",
            Self::Approver => "approver",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        match s {
            "requester" => Ok(Self::Requester),
            "approver" => Ok(Self::Approver),
            _ => Err(Error::CorruptRow("pending_approvals")),
        }
    }
}

/// A pending approval kept across restarts (either side of the request).
pub struct PendingApprovalRow {
    /// Its side.
    pub role: ApprovalSide,
    /// The side's state (may hold the QR secret), decrypted; zeroized on drop.
    pub payload: SecretBytes,
    /// When the request expires (ms since the epoch).
    pub expires_at_ms: i64,
}

impl std::fmt::Debug for PendingApprovalRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingApprovalRow")
            .field("role", &self.role)
            .field("payload", &"<redacted>")
            .field("expires_at_ms", &self.expires_at_ms)
            .finish()
    }
}

/// One line of the local audit log (ids, names and reasons; never secrets).
#[cfg(feature = "testing")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Milliseconds since the Unix epoch.
    pub at_ms: i64,
    /// Event name, e.g. `"vault_created"`.
    pub event: String,
    /// Free text without secrets.
    pub detail: String,
}

fn uuid_col(
    row: &Row<'_>,
    idx: usize,
    table: &'static str,
) -> rusqlite::Result<std::result::Result<Uuid, Error>> {
    let s: String = row.get(idx)?;
    Ok(Uuid::parse_str(&s).map_err(|_| Error::CorruptRow(table)))
}

fn version_to_sql(v: u64) -> Result<i64> {
    i64::try_from(v).map_err(|_| Error::CorruptRow("items"))
}

impl Store {
    /// Saves this device's identity (replacing any previous one); the secret is sealed.
    pub fn save_identity(&self, identity: &DeviceIdentity) -> Result<()> {
        let sealed = self.cipher().cipher.seal(
            "identity",
            "secret_key",
            "1",
            &identity.secret_bytes()[..],
        )?;
        self.conn()?.execute(
            "INSERT OR REPLACE INTO identity (id, public_key, secret_key, created_at) VALUES (1, ?1, ?2, ?3)",
            params![&identity.public_key().as_bytes()[..], sealed, now_ms()],
        )?;
        Ok(())
    }

    /// Loads this device's identity, if one was saved.
    pub fn identity(&self) -> Result<Option<DeviceIdentity>> {
        let row: Option<(Vec<u8>, Vec<u8>)> = self
            .conn()?
            .query_row(
                "SELECT public_key, secret_key FROM identity WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((public, sealed)) = row else {
            return Ok(None);
        };
        let secret = self
            .cipher()
            .cipher
            .open("identity", "secret_key", "1", &sealed)?;
        let secret: Zeroizing<[u8; 32]> = Zeroizing::new(
            secret
                .as_slice()
                .try_into()
                .map_err(|_| Error::CorruptRow("identity"))?,
        );
        let identity = DeviceIdentity::from_secret_bytes(&secret)?;
        if identity.public_key().as_bytes()[..] != public[..] {
            return Err(Error::CorruptRow("identity"));
        }
        Ok(Some(identity))
    }

    /// Creates a vault and stores its key, in one transaction.
    #[cfg(feature = "testing")]
    pub fn create_vault(&self, id: Uuid, name: &str, key: &VaultKey) -> Result<()> {
        self.apply(&[Change::NewVault { id, name, key }])
    }

    /// Records a vault known from the server whose key this device may not hold yet.
    pub fn upsert_vault(&self, id: Uuid, name: &str) -> Result<()> {
        self.conn()?.execute(
            "INSERT INTO vaults (id, name, created_at) VALUES (?1, ?2, ?3)
             ON CONFLICT(id) DO UPDATE SET name = excluded.name",
            params![id.to_string(), name, now_ms()],
        )?;
        Ok(())
    }

    /// Stores the key of an existing vault for `epoch`, sealed under the database key. A
    /// held key is never replaced: the same key again is a no-op, a different one is
    /// [`Error::KeyConflict`] and changes nothing.
    #[cfg(feature = "testing")]
    pub fn put_vault_key(&self, id: Uuid, epoch: u32, key: &VaultKey) -> Result<()> {
        match self.vault_key(id, epoch)? {
            Some(held) if held.ct_eq(key) => return Ok(()),
            Some(_) => return Err(Error::KeyConflict),
            None => {}
        }
        let sealed = self.seal_vault_key(id, epoch, key)?;
        let n = self.conn()?.execute(
            "INSERT INTO vault_keys (vault_id, epoch, sealed_key) SELECT id, ?2, ?3 FROM vaults WHERE id = ?1
             ON CONFLICT(vault_id, epoch) DO NOTHING",
            params![id.to_string(), epoch, sealed],
        )?;
        if n == 0 {
            Err(Error::NotFound("vault"))
        } else {
            Ok(())
        }
    }

    /// The sealed column's row key: the vault id for epoch 0 (as before epochs), else
    /// `vault#epoch`, so a key copied to another epoch's row does not open.
    fn key_row(id: Uuid, epoch: u32) -> String {
        if epoch == 0 {
            id.to_string()
        } else {
            format!("{id}#{epoch}")
        }
    }

    fn seal_vault_key(&self, id: Uuid, epoch: u32, key: &VaultKey) -> Result<Vec<u8>> {
        self.cipher().cipher.seal(
            "vault_keys",
            "sealed_key",
            &Self::key_row(id, epoch),
            key.expose(),
        )
    }

    /// The key of a vault for one epoch, if this device holds it.
    pub fn vault_key(&self, id: Uuid, epoch: u32) -> Result<Option<VaultKey>> {
        let sealed: Option<Vec<u8>> = self
            .conn()?
            .query_row(
                "SELECT sealed_key FROM vault_keys WHERE vault_id = ?1 AND epoch = ?2",
                params![id.to_string(), epoch],
                |r| r.get(0),
            )
            .optional()?;
        let Some(sealed) = sealed else {
            return Ok(None);
        };
        let bytes = self.cipher().cipher.open(
            "vault_keys",
            "sealed_key",
            &Self::key_row(id, epoch),
            &sealed,
        )?;
        let arr: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| Error::CorruptRow("vault_keys"))?;
        Ok(Some(VaultKey::from_bytes(Zeroizing::new(arr))))
    }

    /// The epochs of a vault's keys this device holds, oldest first.
    pub fn vault_key_epochs(&self, id: Uuid) -> Result<Vec<u32>> {
        let conn = self.conn()?;
        let mut stmt =
            conn.prepare_cached("SELECT epoch FROM vault_keys WHERE vault_id = ?1 ORDER BY epoch")?;
        let rows = stmt.query_map([id.to_string()], |r| r.get::<_, u32>(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Pulled records this device refused, newest first: (vault, item, version, reason).
    #[cfg(feature = "testing")]
    pub fn held_back(&self) -> Result<Vec<(Uuid, Uuid, u64, String)>> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT vault_id, item_id, version, reason FROM held_back ORDER BY at DESC",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, String>(3)?,
            ))
        })?;
        rows.map(|row| {
            let (v, i, ver, reason) = row?;
            Ok((
                Uuid::parse_str(&v).map_err(|_| Error::CorruptRow("held_back"))?,
                Uuid::parse_str(&i).map_err(|_| Error::CorruptRow("held_back"))?,
                u64::try_from(ver).map_err(|_| Error::CorruptRow("held_back"))?,
                reason,
            ))
        })
        .collect()
    }

    /// Every vault this device knows, by name.
    pub fn vaults(&self) -> Result<Vec<VaultRecord>> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT v.id, v.name, EXISTS (SELECT 1 FROM vault_keys k WHERE k.vault_id = v.id)
             FROM vaults v ORDER BY v.name, v.id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((uuid_col(r, 0, "vaults")?, r.get(1)?, r.get(2)?))
        })?;
        rows.map(|row| {
            let (id, name, has_key) = row?;
            Ok(VaultRecord {
                id: id?,
                name,
                has_key,
            })
        })
        .collect()
    }

    /// Writes one item (insert or replace) in its own transaction.
    #[cfg(feature = "testing")]
    pub fn put_item(&self, item: &StoredItem) -> Result<()> {
        self.put_items(std::slice::from_ref(item))
    }

    /// Writes many items in one transaction: all or none.
    #[cfg(feature = "testing")]
    pub fn put_items(&self, items: &[StoredItem]) -> Result<()> {
        self.apply(&items.iter().map(Change::Item).collect::<Vec<_>>())
    }

    /// Applies `changes` in one transaction: after a crash either all of them are in the
    /// file or none is (an item and its queued upload, an acknowledgement and its
    /// outbox entry, a conflict copy and the write it replaces).
    pub fn apply(&self, changes: &[Change<'_>]) -> Result<()> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for change in changes {
            match change {
                Change::Item(it) => {
                    tx.prepare_cached(
                        "INSERT INTO items (vault_id, id, version, sealed, dirty, updated_at, high, deleted)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?3, ?7)
                         ON CONFLICT(vault_id, id) DO UPDATE SET version = excluded.version,
                           sealed = excluded.sealed, dirty = excluded.dirty, updated_at = excluded.updated_at,
                           deleted = excluded.deleted, high = max(items.high, excluded.version)",
                    )?
                    .execute(params![
                        it.vault_id.to_string(),
                        it.item_id.to_string(),
                        version_to_sql(it.version)?,
                        it.sealed,
                        it.dirty,
                        now_ms(),
                        it.deleted
                    ])?;
                }
                Change::ItemSynced {
                    vault_id,
                    item_id,
                    version,
                } => {
                    tx.prepare_cached("UPDATE items SET dirty = 0 WHERE vault_id = ?1 AND id = ?2 AND version = ?3")?
                        .execute(params![vault_id.to_string(), item_id.to_string(), version_to_sql(*version)?])?;
                }
                Change::NewVault { id, name, key } => {
                    let sealed = self.seal_vault_key(*id, 0, key)?;
                    tx.execute(
                        "INSERT INTO vaults (id, name, created_at) VALUES (?1, ?2, ?3)",
                        params![id.to_string(), name, now_ms()],
                    )?;
                    tx.execute(
                        "INSERT INTO vault_keys (vault_id, epoch, sealed_key) VALUES (?1, 0, ?2)",
                        params![id.to_string(), sealed],
                    )?;
                }
                Change::VaultKey {
                    vault_id,
                    epoch,
                    key,
                } => {
                    let sealed = self.seal_vault_key(*vault_id, *epoch, key)?;
                    tx.execute(
                        "INSERT INTO vaults (id, name, created_at) VALUES (?1, '', ?2) ON CONFLICT(id) DO NOTHING",
                        params![vault_id.to_string(), now_ms()],
                    )?;
                    tx.execute(
                        "INSERT INTO vault_keys (vault_id, epoch, sealed_key) VALUES (?1, ?2, ?3)
                         ON CONFLICT(vault_id, epoch) DO NOTHING",
                        params![vault_id.to_string(), epoch, sealed],
                    )?;
                }
                Change::PendingApproval {
                    request_id,
                    payload,
                } => {
                    let rid = request_id.to_string();
                    let sealed =
                        self.cipher()
                            .cipher
                            .seal("pending_approvals", "sealed", &rid, payload)?;
                    tx.execute(
                        "UPDATE pending_approvals SET sealed = ?2 WHERE request_id = ?1",
                        params![rid, sealed],
                    )?;
                }
                Change::ChainLinks(links) => {
                    for l in links.iter() {
                        let seq =
                            i64::try_from(l.seq).map_err(|_| Error::CorruptRow("chain_links"))?;
                        tx.execute(
                            "INSERT INTO chain_links (seq, link) VALUES (?1, ?2) ON CONFLICT(seq) DO NOTHING",
                            params![seq, l.encode()],
                        )?;
                    }
                }
                Change::HoldBack {
                    vault_id,
                    item_id,
                    version,
                    reason,
                } => {
                    tx.execute(
                        "INSERT OR REPLACE INTO held_back (vault_id, item_id, version, reason, at) VALUES (?1, ?2, ?3, ?4, ?5)",
                        params![vault_id.to_string(), item_id.to_string(), version_to_sql(*version)?, reason, now_ms()],
                    )?;
                }
                Change::DropVault(id) => {
                    let id = id.to_string();
                    tx.execute("DELETE FROM held_back WHERE vault_id = ?1", [&id])?;
                    tx.execute("DELETE FROM items WHERE vault_id = ?1", [&id])?;
                    tx.execute("DELETE FROM vault_keys WHERE vault_id = ?1", [&id])?;
                    tx.execute("DELETE FROM vaults WHERE id = ?1", [&id])?;
                    tx.execute(
                        "DELETE FROM meta WHERE key = ?1",
                        [format!("setting.items_seq.{id}")],
                    )?;
                }
                Change::Enqueue { kind, payload } => {
                    self.insert_outbox(&tx, kind, payload)?;
                }
                Change::OutboxAck(seq) => {
                    tx.execute("DELETE FROM outbox WHERE seq = ?1", [seq])?;
                }
                Change::Setting { name, value } => {
                    tx.execute(
                        "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
                        params![format!("setting.{name}"), value.as_bytes()],
                    )?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// One item row, including tombstones.
    pub fn item(&self, vault_id: Uuid, item_id: Uuid) -> Result<Option<StoredItem>> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT vault_id, id, version, sealed, dirty, deleted, high FROM items WHERE vault_id = ?1 AND id = ?2",
        )?;
        stmt.query_row(
            params![vault_id.to_string(), item_id.to_string()],
            item_from_row,
        )
        .optional()?
        .transpose()
    }

    /// Every live (not deleted) item of a vault.
    pub fn items(&self, vault_id: Uuid) -> Result<Vec<StoredItem>> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT vault_id, id, version, sealed, dirty, deleted, high FROM items
             WHERE vault_id = ?1 AND sealed IS NOT NULL AND deleted = 0 ORDER BY id",
        )?;
        let rows = stmt.query_map([vault_id.to_string()], item_from_row)?;
        rows.map(|r| r?).collect()
    }

    /// Number of live items across all vaults.
    #[cfg(feature = "testing")]
    pub fn item_count(&self) -> Result<u64> {
        let n: i64 = self.conn()?.query_row(
            "SELECT count(*) FROM items WHERE sealed IS NOT NULL AND deleted = 0",
            [],
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }

    /// Queues an operation for the server; the payload is sealed. Returns its sequence.
    #[cfg(feature = "testing")]
    pub fn enqueue(&self, kind: &str, payload: &[u8]) -> Result<i64> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let seq = self.insert_outbox(&tx, kind, payload)?;
        tx.commit()?;
        Ok(seq)
    }

    fn insert_outbox(
        &self,
        tx: &rusqlite::Transaction<'_>,
        kind: &str,
        payload: &[u8],
    ) -> Result<i64> {
        let seq: i64 = tx.query_row("SELECT coalesce(max(seq), 0) + 1 FROM outbox", [], |r| {
            r.get(0)
        })?;
        let sealed = self
            .cipher()
            .cipher
            .seal("outbox", "sealed", &seq.to_string(), payload)?;
        tx.execute(
            "INSERT INTO outbox (seq, kind, sealed, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![seq, kind, sealed, now_ms()],
        )?;
        Ok(seq)
    }

    /// Queued operations to send at `now_ms`, oldest first, stopping before the first one
    /// still waiting out its retry delay (operations are delivered strictly in order).
    pub fn outbox_due(&self, now_ms: i64, limit: usize) -> Result<Vec<OutboxEntry>> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT seq, kind, sealed, attempts FROM outbox
             WHERE seq < coalesce((SELECT min(seq) FROM outbox WHERE next_attempt_at > ?1), 9223372036854775807)
             ORDER BY seq LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![now_ms, limit as i64], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Vec<u8>>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })?;
        rows.map(|row| {
            let (seq, kind, sealed, attempts) = row?;
            let payload =
                self.cipher()
                    .cipher
                    .open("outbox", "sealed", &seq.to_string(), &sealed)?;
            Ok(OutboxEntry {
                seq,
                kind,
                payload,
                attempts: attempts.clamp(0, u32::MAX as i64) as u32,
            })
        })
        .collect()
    }

    /// Number of queued operations.
    pub fn outbox_len(&self) -> Result<u64> {
        let n: i64 = self
            .conn()?
            .query_row("SELECT count(*) FROM outbox", [], |r| r.get(0))?;
        Ok(n as u64)
    }

    /// Removes a delivered operation.
    pub fn outbox_ack(&self, seq: i64) -> Result<()> {
        self.apply(&[Change::OutboxAck(seq)])
    }

    /// Records a failed attempt and when to try again.
    pub fn outbox_retry_at(&self, seq: i64, next_attempt_ms: i64) -> Result<()> {
        self.conn()?.execute(
            "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?2 WHERE seq = ?1",
            params![seq, next_attempt_ms],
        )?;
        Ok(())
    }

    /// Appends to the local audit log. `detail` must not contain secrets.
    pub fn audit(&self, event: &str, detail: &str) -> Result<()> {
        self.conn()?.execute(
            "INSERT INTO audit_log (at, event, detail) VALUES (?1, ?2, ?3)",
            params![now_ms(), event, detail],
        )?;
        Ok(())
    }

    /// The newest `limit` audit entries, newest first.
    #[cfg(feature = "testing")]
    pub fn audit_log(&self, limit: usize) -> Result<Vec<AuditEntry>> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare_cached("SELECT at, event, detail FROM audit_log ORDER BY seq DESC LIMIT ?1")?;
        let rows = stmt.query_map([limit as i64], |r| {
            Ok(AuditEntry {
                at_ms: r.get(0)?,
                event: r.get(1)?,
                detail: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Saves the account row: server URL, enrollment state (JSON, no secrets) and the
    /// secrets blob (tokens), which is sealed.
    pub fn save_account(
        &self,
        server_url: &str,
        state_json: &str,
        secrets: Option<&[u8]>,
    ) -> Result<()> {
        let sealed = secrets
            .map(|s| self.cipher().cipher.seal("account", "secrets", "1", s))
            .transpose()?;
        self.conn()?.execute(
            "INSERT OR REPLACE INTO account (id, server_url, state, secrets, updated_at) VALUES (1, ?1, ?2, ?3, ?4)",
            params![server_url, state_json, sealed, now_ms()],
        )?;
        Ok(())
    }

    /// Loads the account row, if any.
    pub fn account(&self) -> Result<Option<AccountRow>> {
        let row: Option<(String, String, Option<Vec<u8>>)> = self
            .conn()?
            .query_row(
                "SELECT server_url, state, secrets FROM account WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((url, state, sealed)) = row else {
            return Ok(None);
        };
        let secrets = sealed
            .map(|s| self.cipher().cipher.open("account", "secrets", "1", &s))
            .transpose()?;
        Ok(Some(AccountRow {
            server_url: url,
            state_json: state,
            secrets,
        }))
    }

    /// Stores a pending approval (either side); the payload (which may hold a QR secret)
    /// is sealed.
    pub fn put_pending_approval(
        &self,
        request_id: Uuid,
        role: ApprovalSide,
        payload: &[u8],
        expires_at_ms: i64,
    ) -> Result<()> {
        let rid = request_id.to_string();
        let sealed = self
            .cipher()
            .cipher
            .seal("pending_approvals", "sealed", &rid, payload)?;
        self.conn()?.execute(
            "INSERT OR REPLACE INTO pending_approvals (request_id, role, sealed, expires_at) VALUES (?1, ?2, ?3, ?4)",
            params![rid, role.as_str(), sealed, expires_at_ms],
        )?;
        Ok(())
    }

    /// A pending approval kept for `request_id`, if any.
    pub fn pending_approval(&self, request_id: Uuid) -> Result<Option<PendingApprovalRow>> {
        let rid = request_id.to_string();
        let row: Option<(String, Vec<u8>, i64)> = self
            .conn()?
            .query_row(
                "SELECT role, sealed, expires_at FROM pending_approvals WHERE request_id = ?1",
                [&rid],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((role, sealed, exp)) = row else {
            return Ok(None);
        };
        let payload = self
            .cipher()
            .cipher
            .open("pending_approvals", "sealed", &rid, &sealed)?;
        Ok(Some(PendingApprovalRow {
            role: ApprovalSide::parse(&role)?,
            payload,
            expires_at_ms: exp,
        }))
    }

    /// Every pending approval row of one role: `(request id, row)`.
    pub fn pending_approvals(&self, role: ApprovalSide) -> Result<Vec<(Uuid, PendingApprovalRow)>> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT request_id, sealed, expires_at FROM pending_approvals WHERE role = ?1 ORDER BY expires_at",
        )?;
        let rows = stmt.query_map([role.as_str()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        rows.map(|row| {
            let (rid, sealed, exp) = row?;
            let id = Uuid::parse_str(&rid).map_err(|_| Error::CorruptRow("pending_approvals"))?;
            let payload =
                self.cipher()
                    .cipher
                    .open("pending_approvals", "sealed", &rid, &sealed)?;
            Ok((
                id,
                PendingApprovalRow {
                    role,
                    payload,
                    expires_at_ms: exp,
                },
            ))
        })
        .collect()
    }

    /// Completes an approval in one transaction: forgets the pending request and saves
    /// the account row (state and sealed tokens). The keys were stored before the device
    /// acknowledged them ([`Change::VaultKey`]).
    pub fn complete_approval(
        &self,
        request_id: Uuid,
        server_url: &str,
        state_json: &str,
        secrets: &[u8],
    ) -> Result<()> {
        let sealed = self
            .cipher()
            .cipher
            .seal("account", "secrets", "1", secrets)?;
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "DELETE FROM pending_approvals WHERE request_id = ?1",
            [request_id.to_string()],
        )?;
        tx.execute(
            "INSERT OR REPLACE INTO account (id, server_url, state, secrets, updated_at) VALUES (1, ?1, ?2, ?3, ?4)",
            params![server_url, state_json, sealed, now_ms()],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Forgets a pending approval (decided, expired or cancelled).
    pub fn delete_pending_approval(&self, request_id: Uuid) -> Result<()> {
        self.conn()?.execute(
            "DELETE FROM pending_approvals WHERE request_id = ?1",
            [request_id.to_string()],
        )?;
        Ok(())
    }
}

fn item_from_row(r: &Row<'_>) -> rusqlite::Result<Result<StoredItem>> {
    let vault_id = uuid_col(r, 0, "items")?;
    let item_id = uuid_col(r, 1, "items")?;
    let version: i64 = r.get(2)?;
    let sealed: Option<Vec<u8>> = r.get(3)?;
    let dirty: bool = r.get(4)?;
    let deleted: bool = r.get(5)?;
    let high: i64 = r.get(6)?;
    Ok((|| {
        Ok(StoredItem {
            vault_id: vault_id?,
            item_id: item_id?,
            version: u64::try_from(version).map_err(|_| Error::CorruptRow("items"))?,
            sealed,
            deleted,
            dirty,
            high: u64::try_from(high).map_err(|_| Error::CorruptRow("items"))?,
        })
    })())
}
