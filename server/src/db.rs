//! Server storage: one SQLite file (WAL, `synchronous=FULL`, foreign keys on) behind
//! one connection. Every handler's work runs on the blocking pool; every change is one
//! `BEGIN IMMEDIATE` transaction, so rules that count rows (device limit, one pending
//! request, exactly one decision) hold under any concurrency, also against a second
//! process (the admin command) on the same file.

use std::{
    cell::RefCell,
    collections::HashMap,
    path::Path,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Instant,
};

use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::watch;
use uuid::Uuid;

use crate::{
    error::{ApiError, ApiResult},
    store::{
        StoreError, Tx, params,
        postgres::{self, PoolOptions, Postgres},
    },
};

const SCHEMA: &[&str] = &[
    r#"
CREATE TABLE workspaces (
    id    TEXT PRIMARY KEY,
    name  TEXT NOT NULL UNIQUE
) STRICT;
CREATE TABLE users (
    id               TEXT PRIMARY KEY,
    workspace_id     TEXT NOT NULL REFERENCES workspaces(id),
    email            TEXT NOT NULL UNIQUE COLLATE NOCASE,
    username         TEXT NOT NULL,
    password_hash    TEXT NOT NULL,
    role             TEXT NOT NULL CHECK (role IN ('member', 'admin')),
    code_failures    INTEGER NOT NULL DEFAULT 0,
    deprovisioned_at INTEGER
) STRICT;
CREATE TABLE account_tokens (
    hash        BLOB PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id),
    expires_at  INTEGER NOT NULL
) STRICT;
CREATE TABLE devices (
    id             TEXT PRIMARY KEY,
    user_id        TEXT NOT NULL REFERENCES users(id),
    name           TEXT NOT NULL,
    name_key       TEXT NOT NULL,
    kind           TEXT NOT NULL,
    platform       TEXT NOT NULL,
    status         TEXT NOT NULL,
    public_key     BLOB NOT NULL,
    origin         TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    verified_at    INTEGER,
    verified_by    TEXT,
    registered_by  BLOB NOT NULL,           -- hash of the account token that registered it
    token_hash     BLOB UNIQUE              -- hash of the device token, once trusted
) STRICT;
CREATE UNIQUE INDEX devices_live_name ON devices(user_id, name_key) WHERE status IN ('pending', 'trusted');
CREATE INDEX devices_user ON devices(user_id, status);
CREATE TABLE email_codes (
    device_id   TEXT PRIMARY KEY REFERENCES devices(id),
    code_hash   BLOB NOT NULL,
    sent_at     INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    used        INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE TABLE approval_requests (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id),
    device_id   TEXT NOT NULL REFERENCES devices(id),
    purpose     TEXT NOT NULL,
    status      TEXT NOT NULL,
    origin      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    decided_by  TEXT,
    decided_at  INTEGER,
    via_qr      INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE UNIQUE INDEX approval_one_pending ON approval_requests(user_id) WHERE status = 'pending';
CREATE INDEX approval_user_time ON approval_requests(user_id, created_at);
CREATE TABLE vaults (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id),
    name        TEXT NOT NULL,
    created_by  TEXT NOT NULL REFERENCES devices(id),
    created_at  INTEGER NOT NULL
) STRICT;
CREATE TABLE envelopes (
    device_id   TEXT NOT NULL REFERENCES devices(id),
    vault_id    TEXT NOT NULL REFERENCES vaults(id),
    request_id  TEXT NOT NULL,
    envelope    BLOB NOT NULL,
    sealed_by   TEXT NOT NULL,
    via_qr      INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (device_id, vault_id, request_id)
) STRICT;
CREATE TABLE items (
    vault_id    TEXT NOT NULL REFERENCES vaults(id),
    item_id     TEXT NOT NULL,
    version     INTEGER NOT NULL,
    ciphertext  BLOB,
    seq         INTEGER NOT NULL,
    PRIMARY KEY (vault_id, item_id)
) STRICT;
CREATE INDEX items_seq ON items(vault_id, seq);
CREATE TABLE events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id   TEXT NOT NULL,
    kind        TEXT NOT NULL,
    data        TEXT NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX events_device ON events(device_id, seq);
CREATE TABLE mail (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    to_addr  TEXT NOT NULL COLLATE NOCASE,
    subject  TEXT NOT NULL,
    body     TEXT NOT NULL,
    sent_at  INTEGER NOT NULL
) STRICT;
"#,
    r#"
-- Consecutive wrong passwords per (normalised) email, known user or not, so the throttle
-- neither lets guessing run free nor tells which emails have accounts.
CREATE TABLE login_failures (
    email     TEXT PRIMARY KEY,
    failures  INTEGER NOT NULL,
    last_at   INTEGER NOT NULL   -- unix milliseconds of the last attempt
) STRICT;
"#,
    r#"
-- Trust v2 tiers. A trusted device is a `key_holder` or `email_only`, set at verification
-- and changed only by an approval of that device; `approved_by` names the key holder whose
-- approval made it one. Devices trusted before tiers existed: an approval made a key
-- holder; by email, the user's first web/mobile device did, the others stay email-only.
ALTER TABLE devices ADD COLUMN tier TEXT CHECK (tier IN ('key_holder', 'email_only'));
ALTER TABLE devices ADD COLUMN approved_by TEXT;
-- The operator's last resort (`vouch-server admin allow-email-root`): the user's next
-- web/mobile email verification makes a first key holder again, once.
ALTER TABLE users ADD COLUMN email_root_allowed INTEGER NOT NULL DEFAULT 0;
UPDATE devices SET tier = 'key_holder',
    approved_by = (SELECT decided_by FROM approval_requests a
                   WHERE a.device_id = devices.id AND a.status = 'approved'
                   ORDER BY a.decided_at DESC LIMIT 1)
    WHERE verified_by IN ('approval', 'qr_approval');
UPDATE devices SET tier = 'key_holder'
    WHERE verified_by = 'email_code' AND kind IN ('web', 'mobile')
      AND id = (SELECT d.id FROM devices d WHERE d.user_id = devices.user_id
                AND d.verified_by = 'email_code' AND d.kind IN ('web', 'mobile')
                ORDER BY d.verified_at, d.id LIMIT 1)
      AND NOT EXISTS (SELECT 1 FROM devices o WHERE o.user_id = devices.user_id
                      AND o.verified_by IN ('approval', 'qr_approval')
                      AND o.verified_at < devices.verified_at);
UPDATE devices SET tier = 'email_only' WHERE verified_by IS NOT NULL AND tier IS NULL;
-- Key sharing that made an email-only device a key holder is an approval too.
UPDATE devices SET tier = 'key_holder'
    WHERE tier = 'email_only' AND EXISTS (SELECT 1 FROM approval_requests a
        WHERE a.device_id = devices.id AND a.status = 'approved' AND a.purpose = 'key_sharing');
"#,
    r#"
-- Trust v2 approvals (docs/TRUST_V2.md). v1 requests (number matching, base-mode
-- envelopes) are dropped, not misread; envelopes now travel inside the encrypted payload
-- of a PAKE run, so the envelope table goes too.
DELETE FROM approval_requests;
DROP TABLE envelopes;
DROP INDEX approval_one_pending;
ALTER TABLE approval_requests DROP COLUMN via_qr;
ALTER TABLE approval_requests ADD COLUMN current_run TEXT;
-- One open request per device; nobody's request blocks another's (rule 4).
CREATE UNIQUE INDEX approval_one_open ON approval_requests(device_id)
    WHERE status IN ('pending', 'approved');
CREATE TABLE approval_runs (
    id           TEXT PRIMARY KEY,
    request_id   TEXT NOT NULL REFERENCES approval_requests(id),
    approver_id  TEXT NOT NULL REFERENCES devices(id),
    secret       TEXT NOT NULL CHECK (secret IN ('code', 'qr')),
    msg_a        BLOB NOT NULL,
    msg_b        BLOB,
    mac_b        BLOB,
    mac_a        BLOB,
    payload      BLOB,
    aborted      INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX approval_runs_request ON approval_runs(request_id);
"#,
    r#"
-- Device-name keys are UTS #39 skeletons from here on (look-alike names collide): two
-- per device (`vouch_proto::name_keys`), recomputed in Rust for existing devices right
-- after this step (`rekey_device_names`).
ALTER TABLE devices ADD COLUMN name_key2 TEXT NOT NULL DEFAULT '';
-- Addresses a user signed in from: the per-email ceiling of wrong passwords (guessing
-- spread over many addresses) does not lock the owner out at an address of theirs.
CREATE TABLE login_known (
    email       TEXT NOT NULL,
    address     TEXT NOT NULL,
    last_ok_at  INTEGER NOT NULL,   -- unix milliseconds
    PRIMARY KEY (email, address)
) STRICT;
-- Old failure counts are pruned on every attempt.
CREATE INDEX login_failures_time ON login_failures(last_at);
"#,
    r#"
-- When each device last called with its token (coarse: at most one write a minute).
ALTER TABLE devices ADD COLUMN last_seen_at INTEGER;
-- The audit log of device events (`crate::audit`): who added, approved, denied, disabled,
-- renamed what, from where and when; user-wide entries have no device.
CREATE TABLE audit_events (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id     TEXT NOT NULL REFERENCES workspaces(id),
    user_id          TEXT NOT NULL REFERENCES users(id),
    device_id        TEXT REFERENCES devices(id),
    device_name      TEXT,
    action           TEXT NOT NULL,
    actor_device_id  TEXT REFERENCES devices(id),
    origin           TEXT,
    detail           TEXT,
    created_at       INTEGER NOT NULL
) STRICT;
CREATE INDEX audit_events_user ON audit_events(user_id, seq);
CREATE INDEX audit_events_workspace ON audit_events(workspace_id, seq);
"#,
    r#"
-- The vouch chain (DESIGN § The vouch chain). A device's Ed25519 key travels in its key
-- bundle beside the X25519 key (devices registered before have none).
ALTER TABLE devices ADD COLUMN signing_key BLOB;
-- The user's links in order; the server checks only position and previous hash (so two
-- appends cannot fork it), every client verifies the signatures.
CREATE TABLE chain_links (
    user_id     TEXT NOT NULL REFERENCES users(id),
    seq         INTEGER NOT NULL,
    link        BLOB NOT NULL,
    hash        BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (user_id, seq)
) STRICT;
-- The requester's counter-signature of its vouch, sent with its run answer.
ALTER TABLE approval_runs ADD COLUMN reverse_sig BLOB;
-- Vault keys sealed by one key holder to another (new vaults, rotations): the recipient
-- checks the sender against its verified chain.
CREATE TABLE chain_envelopes (
    recipient_id  TEXT NOT NULL REFERENCES devices(id),
    vault_id      TEXT NOT NULL REFERENCES vaults(id),
    epoch         INTEGER NOT NULL,
    sender_id     TEXT NOT NULL REFERENCES devices(id),
    envelope      BLOB NOT NULL,
    created_at    INTEGER NOT NULL,
    -- One per sender: a key holder's junk cannot crowd out another's real envelope.
    PRIMARY KEY (recipient_id, vault_id, epoch, sender_id)
) STRICT;
-- Vault keys sealed to the user's recovery key (an offline member of the chain, not a
-- device): fetched by the device its words are entered on.
CREATE TABLE recovery_envelopes (
    user_id     TEXT NOT NULL REFERENCES users(id),
    member_id   TEXT NOT NULL,
    vault_id    TEXT NOT NULL REFERENCES vaults(id),
    epoch       INTEGER NOT NULL,
    sender_id   TEXT NOT NULL REFERENCES devices(id),
    envelope    BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (member_id, vault_id, epoch, sender_id)
) STRICT;
-- Key rotation: a vault's newest key epoch, and the chain position its rotator had
-- verified (a revocation after it asks the key holders to rotate again).
ALTER TABLE vaults ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE vaults ADD COLUMN epoch_chain_seq INTEGER;
"#,
    r#"
-- Web console sessions (issue 17, `routes::console`): delegated sessions of a key holder.
-- The token and the code are stored hashed; ended sessions are deleted.
CREATE TABLE console_sessions (
    id             TEXT PRIMARY KEY,
    user_id        TEXT NOT NULL REFERENCES users(id),
    token_hash     BLOB NOT NULL UNIQUE,
    code_hash      BLOB NOT NULL,
    code_failures  INTEGER NOT NULL DEFAULT 0,
    status         TEXT NOT NULL,       -- pending | active
    admin          INTEGER NOT NULL DEFAULT 0,
    user_agent     TEXT NOT NULL,
    origin         TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    approved_by    TEXT REFERENCES devices(id),
    approved_at    INTEGER,
    last_used_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX console_sessions_user ON console_sessions(user_id);
"#,
    r#"
-- A deleted vault keeps its row with the deletion sealed under its key (issue 13): the
-- user's devices drop their copy only on a deletion that opens.
ALTER TABLE vaults ADD COLUMN tombstone BLOB;
"#,
];

/// The SQLite schema's version (`PRAGMA user_version`) this binary migrates to.
pub(crate) const SCHEMA_VERSION: usize = SCHEMA.len();

/// The schema step after which device-name keys are skeletons.
const SKELETON_KEYS_STEP: usize = 5;

/// Recomputes every device's two name keys from its name. Two live devices of a user
/// whose names only now collide keep distinct keys (the later one's are suffixed with its
/// id), so the migration never fails; new names are checked strictly.
fn rekey_device_names(tx: &Tx<'_>) -> Result<(), StoreError> {
    let rows: Vec<(String, String, String, String)> = tx.query_all(
        "SELECT id, user_id, name, status FROM devices ORDER BY created_at, id",
        params![],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )?;
    tx.execute(
        "UPDATE devices SET name_key = 'rekey:' || id, name_key2 = ''",
        params![],
    )?;
    let mut live = std::collections::HashSet::new();
    for (id, user, name, status) in rows {
        let mut keys = vouch_proto::name_keys(&name);
        let is_live = status == "pending" || status == "trusted";
        if is_live
            && keys
                .iter()
                .any(|k| live.contains(&(user.clone(), k.clone())))
        {
            log::warn!("device {id}: its name looks like another live device's; kept apart");
            keys = keys.map(|k| format!("{k}\u{0}{id}"));
        }
        if is_live {
            for k in &keys {
                live.insert((user.clone(), k.clone()));
            }
        }
        tx.execute(
            "UPDATE devices SET name_key = ?2, name_key2 = ?3 WHERE id = ?1",
            params![id, keys[0], keys[1]],
        )?;
    }
    Ok(())
}

thread_local! {
    /// Devices that got an event in the transaction running on this thread.
    static TOUCHED: RefCell<Vec<Uuid>> = const { RefCell::new(Vec::new()) };
}

/// Records that `device` got an event in the current transaction; its event streams are
/// woken when (and only if) the transaction commits.
pub(crate) fn mark_event(device: Uuid) {
    TOUCHED.with(|t| t.borrow_mut().push(device));
}

fn take_touched() -> Vec<Uuid> {
    TOUCHED.with(|t| std::mem::take(&mut *t.borrow_mut()))
}

/// Wakes the event streams of the devices a commit wrote events for.
#[derive(Default)]
pub struct EventHub {
    subscribers: Mutex<HashMap<Uuid, watch::Sender<u64>>>,
    stopping: AtomicBool,
}

impl EventHub {
    /// A receiver that changes whenever `device` gets an event (or the server stops).
    pub fn subscribe(&self, device: Uuid) -> watch::Receiver<u64> {
        let mut subs = self.subscribers.lock().unwrap_or_else(|p| p.into_inner());
        subs.retain(|_, s| s.receiver_count() > 0);
        subs.entry(device)
            .or_insert_with(|| watch::channel(0).0)
            .subscribe()
    }

    /// Wakes the streams of `devices`.
    pub(crate) fn notify(&self, devices: &[Uuid]) {
        let subs = self.subscribers.lock().unwrap_or_else(|p| p.into_inner());
        for d in devices {
            if let Some(s) = subs.get(d) {
                s.send_modify(|n| *n = n.wrapping_add(1));
            }
        }
    }

    /// Wakes every stream: each re-reads its events (after the push listener reconnected).
    pub(crate) fn wake_all(&self) {
        let subs = self.subscribers.lock().unwrap_or_else(|p| p.into_inner());
        for s in subs.values() {
            s.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    /// Ends every stream (graceful shutdown).
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.wake_all();
    }

    /// Whether the server is shutting down.
    pub fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }
}

/// The database file's name inside the data directory.
pub const DB_FILE: &str = "vouch-server.db";

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The data directory or a file in it could not be created or made private.
    #[error("{}: {source}", path.display())]
    Directory {
        /// The directory or file.
        path: std::path::PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The database refused to open (not a database, locked, unreachable, newer schema, …).
    #[error("{0}")]
    Store(#[from] StoreError),
}

impl OpenError {
    /// A file-system failure at `path`.
    pub fn at(path: &Path, source: std::io::Error) -> Self {
        Self::Directory {
            path: path.into(),
            source,
        }
    }
}

/// The server database: the SQLite file in the data directory, or a PostgreSQL database
/// (`--database postgres://…`). Cloning shares the connections.
#[derive(Clone)]
pub struct Db {
    backend: Backend,
    hub: Arc<EventHub>,
}

#[derive(Clone)]
enum Backend {
    Sqlite(Sqlite),
    Postgres(Postgres),
}

/// The SQLite file's two connections.
#[derive(Clone)]
struct Sqlite {
    conn: Arc<Mutex<Connection>>,
    /// Async requests queue here for their turn, not on a blocking-pool thread each (a
    /// burst of waiting requests used to grow the pool to hundreds of threads and
    /// hundreds of MiB); the connection's own lock is then nearly always free.
    turn: Arc<tokio::sync::Mutex<()>>,
    /// The read-only connection of [`Db::read`] and its queue.
    reader: Arc<Mutex<Connection>>,
    read_turn: Arc<tokio::sync::Mutex<()>>,
}

impl Db {
    /// Opens (creating and migrating) `vouch-server.db` in `dir`. The directory is made
    /// 0700 and the database file 0600 before SQLite touches it (its WAL and SHM files
    /// inherit the mode).
    pub fn open(dir: &Path) -> Result<Self, OpenError> {
        crate::files::private_dir(dir).map_err(|e| OpenError::at(dir, e))?;
        let file = dir.join(DB_FILE);
        for f in [
            file.clone(),
            dir.join(format!("{DB_FILE}-wal")),
            dir.join(format!("{DB_FILE}-shm")),
        ] {
            if f == file || f.exists() {
                crate::files::private_file(&f).map_err(|e| OpenError::at(&f, e))?;
            }
        }
        Ok(Self::open_file(&file)?)
    }

    /// Connects to a PostgreSQL database and migrates it (docs/OPERATING.md).
    pub async fn connect(url: &str, opts: PoolOptions) -> Result<Self, OpenError> {
        let pg = Postgres::connect(url, opts).await?;
        let hub: Arc<EventHub> = Arc::default();
        crate::push::spawn_listener(pg.config(), hub.clone());
        Ok(Self {
            backend: Backend::Postgres(pg),
            hub,
        })
    }

    fn open_file(file: &Path) -> Result<Self, StoreError> {
        let mut conn = Connection::open(file)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.set_prepared_statement_cache_capacity(64);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        // A file a newer server migrated: its tables mean what this binary cannot know.
        if usize::try_from(version).map_or(true, |v| v > SCHEMA_VERSION) {
            return Err(StoreError::Config(format!(
                "the database's schema (version {version}) is newer than this server's ({SCHEMA_VERSION}): run the newer vouch-server"
            )));
        }
        for (i, sql) in SCHEMA.iter().enumerate().skip(version.max(0) as usize) {
            tx.execute_batch(sql)?;
            if i + 1 == SKELETON_KEYS_STEP {
                rekey_device_names(&Tx::sqlite(&tx))?;
            }
            tx.pragma_update(None, "user_version", i as i64 + 1)?;
        }
        tx.commit()?;
        // A second connection for event streams' reads: in WAL mode a reader sees every
        // committed transaction without waiting behind the writers (the push of
        // `approval_requested` used to queue behind every write in flight).
        let reader = Connection::open_with_flags(
            file,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        reader.busy_timeout(std::time::Duration::from_secs(10))?;
        Ok(Self {
            backend: Backend::Sqlite(Sqlite {
                conn: Arc::new(Mutex::new(conn)),
                turn: Arc::default(),
                reader: Arc::new(Mutex::new(reader)),
                read_turn: Arc::default(),
            }),
            hub: Arc::default(),
        })
    }

    /// Runs `f` in one read transaction (a consistent snapshot of what was committed),
    /// never waiting for a writer (SQLite: on the read connection).
    pub async fn read<T, F>(&self, f: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Tx<'_>) -> ApiResult<T> + Send + 'static,
    {
        match &self.backend {
            Backend::Sqlite(db) => {
                let reader = db.reader.clone();
                let turn = db.read_turn.clone().lock_owned().await;
                tokio::task::spawn_blocking(move || {
                    let mut conn = reader.lock().unwrap_or_else(|p| p.into_inner());
                    let tx = conn
                        .transaction_with_behavior(TransactionBehavior::Deferred)
                        .map_err(StoreError::from)?;
                    let out = f(&Tx::sqlite(&tx));
                    drop(tx); // a read: nothing to commit
                    drop(turn);
                    out
                })
                .await
                .map_err(|_| ApiError::internal())?
            }
            Backend::Postgres(pg) => {
                let mut client = pg.client().await?;
                tokio::task::spawn_blocking(move || {
                    let rt = tokio::runtime::Handle::current();
                    let tx = postgres::begin(&rt, &mut client, false)?;
                    f(&Tx::postgres(&tx, &rt))
                })
                .await
                .map_err(|_| ApiError::internal())?
            }
        }
    }

    /// Runs `f` in one writing transaction on the blocking pool (SQLite: `BEGIN
    /// IMMEDIATE`; PostgreSQL: under the write lock); commits when `f` returns `Ok`, rolls
    /// back otherwise.
    pub async fn tx<T, F>(&self, f: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Tx<'_>) -> ApiResult<T> + Send + 'static,
    {
        let hub = self.hub.clone();
        match &self.backend {
            Backend::Sqlite(db) => {
                let conn = db.conn.clone();
                let asked = Instant::now();
                let turn = db.turn.clone().lock_owned().await;
                tokio::task::spawn_blocking(move || {
                    let mut conn = conn.lock().unwrap_or_else(|p| p.into_inner());
                    let out = run(&mut conn, &hub, asked, f);
                    drop(turn);
                    out
                })
                .await
                .map_err(|_| ApiError::internal())?
            }
            Backend::Postgres(pg) => {
                let asked = Instant::now();
                let mut client = pg.client().await?;
                tokio::task::spawn_blocking(move || run_postgres(&mut client, &hub, asked, f))
                    .await
                    .map_err(|_| ApiError::internal())?
            }
        }
    }

    /// Runs `f` with a transaction synchronously (for start-up and admin commands; on
    /// PostgreSQL from a blocking thread of the runtime).
    pub fn tx_blocking<T>(&self, f: impl FnOnce(&Tx<'_>) -> ApiResult<T>) -> ApiResult<T> {
        match &self.backend {
            Backend::Sqlite(db) => {
                let asked = Instant::now();
                let mut conn = db.conn.lock().unwrap_or_else(|p| p.into_inner());
                run(&mut conn, &self.hub, asked, f)
            }
            Backend::Postgres(pg) => {
                let asked = Instant::now();
                let rt = tokio::runtime::Handle::try_current().map_err(|_| ApiError::internal())?;
                let mut client = rt.block_on(pg.client())?;
                run_postgres(&mut client, &self.hub, asked, f)
            }
        }
    }

    /// Writes a consistent copy of the database to `dest` with SQLite's online backup API
    /// (pages are copied in steps; the server keeps serving in between). `dest` is
    /// created 0600 and must not exist yet. PostgreSQL is backed up with `pg_dump`.
    pub fn backup_to(&self, dest: &Path) -> Result<(), OpenError> {
        let Backend::Sqlite(db) = &self.backend else {
            return Err(StoreError::Config(
                "a PostgreSQL database is backed up with pg_dump".into(),
            )
            .into());
        };
        // create_new: an existing file — or a symlink, dangling or not — is refused.
        crate::files::private_options()
            .write(true)
            .create_new(true)
            .open(dest)
            .map_err(|e| OpenError::at(dest, e))?;
        let mut out = Connection::open(dest).map_err(StoreError::from)?;
        let conn = db.conn.lock().unwrap_or_else(|p| p.into_inner());
        let backup = rusqlite::backup::Backup::new(&conn, &mut out).map_err(StoreError::from)?;
        backup
            .run_to_completion(256, std::time::Duration::from_millis(5), None)
            .map_err(StoreError::from)?;
        Ok(())
    }

    /// Connects to a PostgreSQL database and migrates it, without the push listener a
    /// serving process needs (the copy command).
    pub(crate) async fn connect_unlistened(
        url: &str,
        opts: PoolOptions,
    ) -> Result<Self, OpenError> {
        Ok(Self {
            backend: Backend::Postgres(Postgres::connect(url, opts).await?),
            hub: Arc::default(),
        })
    }

    /// Whether this is a PostgreSQL database (else the SQLite file).
    pub(crate) fn is_postgres(&self) -> bool {
        matches!(self.backend, Backend::Postgres(_))
    }

    /// Runs `f` in one writing transaction, synchronously (on PostgreSQL from a blocking
    /// thread of a runtime), committing only when it returns `Ok`; its error comes back
    /// as it was (not turned into an HTTP error), with nothing written.
    pub(crate) fn write_blocking<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Tx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        match &self.backend {
            Backend::Sqlite(db) => {
                let mut conn = db.conn.lock().unwrap_or_else(|p| p.into_inner());
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(StoreError::from)?;
                let v = f(&Tx::sqlite(&tx))?;
                tx.commit().map_err(StoreError::from)?;
                Ok(v)
            }
            Backend::Postgres(pg) => {
                let rt = tokio::runtime::Handle::try_current()
                    .map_err(|_| StoreError::Config("no runtime for PostgreSQL".into()))?;
                let mut client = rt.block_on(pg.client())?;
                let tx = postgres::begin(&rt, &mut client, true)?;
                let v = f(&Tx::postgres(&tx, &rt))?;
                postgres::commit(&rt, tx)?;
                Ok(v)
            }
        }
    }

    /// A cheap liveness query (`GET /healthz`): fails while the database is unreachable.
    pub async fn ping(&self) -> ApiResult<()> {
        self.read(|tx| Ok(tx.query_one("SELECT 1", params![], |_| Ok(()))?))
            .await
    }

    /// The event-stream notifier.
    pub fn hub(&self) -> &EventHub {
        &self.hub
    }
}

/// Runs `f` in one transaction, commits on `Ok`, and wakes the event streams of the
/// devices it wrote events for once the commit is done. `asked`: when the caller asked
/// for its turn (the wait until the write lock is held is measured from there).
fn run<T>(
    conn: &mut Connection,
    hub: &EventHub,
    asked: Instant,
    f: impl FnOnce(&Tx<'_>) -> ApiResult<T>,
) -> ApiResult<T> {
    take_touched();
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(StoreError::from)?;
    let started = locked(asked);
    let out = f(&Tx::sqlite(&tx));
    let out = match out {
        Ok(v) => tx
            .commit()
            .map(|_| v)
            .map_err(|e| StoreError::from(e).into()),
        Err(e) => Err(e),
    };
    committed(hub, started, out)
}

/// [`run`] on a pooled PostgreSQL connection (from a blocking thread of the runtime).
fn run_postgres<T>(
    client: &mut deadpool_postgres::Object,
    hub: &EventHub,
    asked: Instant,
    f: impl FnOnce(&Tx<'_>) -> ApiResult<T>,
) -> ApiResult<T> {
    take_touched();
    let rt = tokio::runtime::Handle::current();
    let tx = postgres::begin(&rt, client, true)?;
    let started = locked(asked);
    let out = f(&Tx::postgres(&tx, &rt));
    let out = match out {
        Ok(v) => {
            // Other replicas' streams of these devices are woken when (if) it commits.
            let touched = TOUCHED.with(|t| t.borrow().clone());
            if !touched.is_empty() {
                Tx::postgres(&tx, &rt).execute(
                    "SELECT pg_notify(?1, ?2)",
                    params![crate::push::CHANNEL, crate::push::payload(&touched)],
                )?;
            }
            postgres::commit(&rt, tx).map(|_| v).map_err(ApiError::from)
        }
        Err(e) => Err(e),
    };
    committed(hub, started, out)
}

/// The write lock was just taken: counts the wait since `asked`; returns now.
fn locked(asked: Instant) -> Instant {
    let now = Instant::now();
    crate::metrics::METRICS
        .write_wait_seconds
        .observe(now.duration_since(asked).as_secs_f64());
    now
}

fn committed<T>(hub: &EventHub, started: Instant, out: ApiResult<T>) -> ApiResult<T> {
    if out.is_ok() {
        crate::metrics::METRICS
            .commit_seconds
            .observe(started.elapsed().as_secs_f64());
    }
    let touched = take_touched();
    if out.is_ok() && !touched.is_empty() {
        hub.notify(&touched);
    }
    out
}
