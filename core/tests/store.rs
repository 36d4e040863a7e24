//! The on-device store through its public API: reopen, migration, wrong or lost wrapping
//! key, atomic batches, outbox and audit log.

// Helpers below unwrap like the tests they serve.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};

use uuid::Uuid;
use vouch_core::{
    Error,
    crypto::{DeviceIdentity, ItemAad, OpenedItem, SecretBytes, VaultKey, open_item},
    keystore::{SecretStore, SecretStoreError, SoftwareSecretStore},
    store::{ApprovalSide, Change, Store, StoredItem, migrations},
};

struct Profile {
    dir: tempfile::TempDir,
}

impl Profile {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn db(&self) -> std::path::PathBuf {
        self.dir.path().join("vouch.db")
    }
    fn keys(&self) -> SoftwareSecretStore {
        SoftwareSecretStore::open(self.dir.path().join("keys")).unwrap()
    }
}

fn item(vault: Uuid, key: &VaultKey, text: &str) -> StoredItem {
    vouch_core::fixtures::new_stored_item(vault, key, text.as_bytes())
}

#[test]
fn survives_reopen() {
    let p = Profile::new();
    let identity = DeviceIdentity::generate().unwrap();
    let vault = Uuid::new_v4();
    let key = VaultKey::generate().unwrap();
    let it = item(vault, &key, "the secret");
    {
        let store = Store::open(p.db(), &p.keys()).unwrap();
        store.save_identity(&identity).unwrap();
        store.create_vault(vault, "Personal", &key).unwrap();
        store.put_item(&it).unwrap();
        store
            .save_account(
                "https://vouch.example",
                r#"{"state":"trusted"}"#,
                Some(b"token-json"),
            )
            .unwrap();
    }
    let store = Store::open(p.db(), &p.keys()).unwrap();
    assert_eq!(store.schema_version().unwrap(), migrations::CURRENT_VERSION);
    assert!(store.integrity_check().unwrap());
    assert_eq!(
        store.identity().unwrap().unwrap().public_key(),
        identity.public_key()
    );
    let got_key = store.vault_key(vault, 0).unwrap().unwrap();
    assert!(got_key.ct_eq(&key));
    let vaults = store.vaults().unwrap();
    assert_eq!(vaults.len(), 1);
    assert_eq!(vaults[0].name, "Personal");
    assert!(vaults[0].has_key);
    let back = store.item(vault, it.item_id).unwrap().unwrap();
    assert_eq!(back, it);
    let pt = open_item(
        &got_key,
        &ItemAad {
            vault_id: vault,
            item_id: it.item_id,
            version: 1,
            epoch: 0,
        },
        back.sealed.as_ref().unwrap(),
    )
    .unwrap();
    assert_eq!(
        pt,
        OpenedItem::Live(SecretBytes::new(b"the secret".to_vec()))
    );
    let account = store.account().unwrap().unwrap();
    assert_eq!(account.server_url, "https://vouch.example");
    assert_eq!(account.secrets.unwrap().as_slice(), b"token-json");
    assert!(!format!("{:?}", store.account().unwrap()).contains("token-json"));
}

#[test]
fn migrates_version_1_forward() {
    let p = Profile::new();
    let vault = Uuid::new_v4();
    let (live, gone) = (Uuid::new_v4(), Uuid::new_v4());
    {
        let old = Store::create_at_version(p.db(), &p.keys(), 1).unwrap();
        assert_eq!(old.schema_version().unwrap(), 1);
        // Version 1 has no audit log yet.
        assert!(matches!(old.audit("x", "y"), Err(Error::Storage(_))));
    }
    // Rows as version 1 wrote them (the sealed bytes are opaque to the migration).
    {
        let c = rusqlite::Connection::open(p.db()).unwrap();
        c.execute(
            "INSERT INTO vaults (id, name, created_at) VALUES (?1, 'Work', 0)",
            [vault.to_string()],
        )
        .unwrap();
        c.execute(
            "INSERT INTO items (vault_id, id, version, sealed, dirty, updated_at) VALUES (?1, ?2, 4, x'01', 0, 0)",
            [vault.to_string(), live.to_string()],
        )
        .unwrap();
        c.execute(
            "INSERT INTO items (vault_id, id, version, sealed, dirty, updated_at) VALUES (?1, ?2, 7, NULL, 0, 0)",
            [vault.to_string(), gone.to_string()],
        )
        .unwrap();
    }
    let store = Store::open(p.db(), &p.keys()).unwrap();
    assert_eq!(store.schema_version().unwrap(), migrations::CURRENT_VERSION);
    let l = store.item(vault, live).unwrap().unwrap();
    assert_eq!((l.version, l.high, l.deleted), (4, 4, false));
    let g = store.item(vault, gone).unwrap().unwrap();
    assert_eq!((g.version, g.high, g.deleted), (7, 7, true));
    assert_eq!(store.items(vault).unwrap().len(), 1);
    store.audit("migrated", "from v1").unwrap();
    assert_eq!(store.audit_log(5).unwrap()[0].event, "migrated");
    let seq = store.enqueue("put_item", b"payload").unwrap();
    store.outbox_retry_at(seq, 0).unwrap();
    assert_eq!(store.outbox_due(0, 10).unwrap()[0].attempts, 1);
}

#[test]
fn refuses_a_newer_schema() {
    let p = Profile::new();
    drop(Store::open(p.db(), &p.keys()).unwrap());
    let conn = rusqlite::Connection::open(p.db()).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    match Store::open(p.db(), &p.keys()) {
        Err(Error::SchemaTooNew {
            found: 99,
            supported,
        }) => assert_eq!(supported, migrations::CURRENT_VERSION),
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
}

#[test]
fn lost_wrapping_key_is_a_typed_error() {
    let p = Profile::new();
    drop(Store::open(p.db(), &p.keys()).unwrap());
    let elsewhere = tempfile::tempdir().unwrap();
    let empty = SoftwareSecretStore::open(elsewhere.path()).unwrap();
    assert!(matches!(
        Store::open(p.db(), &empty),
        Err(Error::WrappingKeyLost)
    ));
}

#[test]
fn different_wrapping_key_is_a_typed_error() {
    let p = Profile::new();
    drop(Store::open(p.db(), &p.keys()).unwrap());
    // Replace the key file's contents with another key under the same label.
    let keydir = p.dir.path().join("keys");
    let file = std::fs::read_dir(&keydir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(&file, [0x42u8; 32]).unwrap();
    assert!(matches!(
        Store::open(p.db(), &p.keys()),
        Err(Error::WrongWrappingKey)
    ));
}

/// A platform store that "unwraps" to the wrong bytes without complaint (as a broken or
/// unauthenticated implementation might): the canary must catch it.
struct LyingStore {
    inner: SoftwareSecretStore,
    lie: AtomicUsize,
}

impl SecretStore for LyingStore {
    fn wrap(&self, label: &str, secret: &[u8]) -> Result<Vec<u8>, SecretStoreError> {
        self.inner.wrap(label, secret)
    }
    fn unwrap(&self, label: &str, wrapped: &[u8]) -> Result<Vec<u8>, SecretStoreError> {
        if self.lie.load(Ordering::SeqCst) > 0 {
            return Ok(vec![7u8; 32]);
        }
        self.inner.unwrap(label, wrapped)
    }
    fn delete(&self, label: &str) -> Result<(), SecretStoreError> {
        self.inner.delete(label)
    }
}

#[test]
fn canary_catches_a_store_returning_the_wrong_key() {
    let p = Profile::new();
    let lying = LyingStore {
        inner: p.keys(),
        lie: AtomicUsize::new(0),
    };
    drop(Store::open(p.db(), &lying).unwrap());
    Store::open(p.db(), &lying).unwrap();
    lying.lie.store(1, Ordering::SeqCst);
    assert!(matches!(
        Store::open(p.db(), &lying),
        Err(Error::WrongWrappingKey)
    ));
}

#[test]
fn batch_writes_are_all_or_nothing() {
    let p = Profile::new();
    let store = Store::open(p.db(), &p.keys()).unwrap();
    let vault = Uuid::new_v4();
    let key = VaultKey::generate().unwrap();
    store.create_vault(vault, "V", &key).unwrap();
    let mut batch: Vec<StoredItem> = (0..10)
        .map(|i| item(vault, &key, &format!("item {i}")))
        .collect();
    batch[7].vault_id = Uuid::new_v4(); // no such vault: foreign key violation
    assert!(store.put_items(&batch).is_err());
    assert_eq!(store.item_count().unwrap(), 0);
    batch[7].vault_id = vault;
    batch[3].version = u64::MAX; // cannot be stored
    assert!(store.put_items(&batch).is_err());
    assert_eq!(store.item_count().unwrap(), 0);
    batch[3].version = 1;
    store.put_items(&batch).unwrap();
    assert_eq!(store.item_count().unwrap(), 10);
    assert_eq!(store.items(vault).unwrap().len(), 10);
}

/// Regression (crash stress): an item and its queued upload were two transactions, so a
/// kill between them left a local write that was never sent. Now they are one batch.
#[test]
fn an_item_and_its_upload_land_together_or_not_at_all() {
    let p = Profile::new();
    let store = Store::open(p.db(), &p.keys()).unwrap();
    let vault = Uuid::new_v4();
    let key = VaultKey::generate().unwrap();
    let (kind, payload) = ("create_vault", b"op".as_slice());
    store
        .apply(&[
            Change::NewVault {
                id: vault,
                name: "V",
                key: &key,
            },
            Change::Enqueue { kind, payload },
        ])
        .unwrap();
    assert_eq!(store.outbox_len().unwrap(), 1);
    // A batch whose last change fails leaves nothing of the earlier ones.
    let good = item(vault, &key, "kept?");
    let mut bad = item(vault, &key, "bad");
    bad.version = u64::MAX;
    let seq = store.outbox_due(i64::MAX, 1).unwrap()[0].seq;
    let r = store.apply(&[
        Change::Item(&good),
        Change::Enqueue {
            kind: "put_item",
            payload: b"upload",
        },
        Change::OutboxAck(seq),
        Change::Setting {
            name: "cursor",
            value: "9",
        },
        Change::Item(&bad),
    ]);
    assert!(r.is_err());
    assert_eq!(store.item_count().unwrap(), 0);
    assert_eq!(store.outbox_len().unwrap(), 1);
    assert_eq!(store.setting("cursor").unwrap(), None);
    // Without the bad change all of it lands.
    store
        .apply(&[
            Change::Item(&good),
            Change::Enqueue {
                kind: "put_item",
                payload: b"upload",
            },
            Change::OutboxAck(seq),
            Change::Setting {
                name: "cursor",
                value: "9",
            },
        ])
        .unwrap();
    assert_eq!(store.item_count().unwrap(), 1);
    assert_eq!(store.outbox_len().unwrap(), 1);
    assert_eq!(store.setting("cursor").unwrap().as_deref(), Some("9"));
    store
        .apply(&[Change::ItemSynced {
            vault_id: vault,
            item_id: good.item_id,
            version: 1,
        }])
        .unwrap();
    assert!(!store.item(vault, good.item_id).unwrap().unwrap().dirty);
}

#[test]
fn vault_key_needs_an_existing_vault() {
    let p = Profile::new();
    let store = Store::open(p.db(), &p.keys()).unwrap();
    let key = VaultKey::generate().unwrap();
    let vault = Uuid::new_v4();
    assert!(matches!(
        store.put_vault_key(vault, 0, &key),
        Err(Error::NotFound("vault"))
    ));
    store.upsert_vault(vault, "Shared").unwrap();
    assert!(store.vault_key(vault, 0).unwrap().is_none());
    assert!(!store.vaults().unwrap()[0].has_key);
    store.put_vault_key(vault, 0, &key).unwrap();
    assert!(store.vault_key(vault, 0).unwrap().unwrap().ct_eq(&key));
    // The same key again is a no-op; a different one is refused and changes nothing.
    store.put_vault_key(vault, 0, &key).unwrap();
    let other = VaultKey::generate().unwrap();
    assert!(matches!(
        store.put_vault_key(vault, 0, &other),
        Err(Error::KeyConflict)
    ));
    assert!(store.vault_key(vault, 0).unwrap().unwrap().ct_eq(&key));
    // Another epoch is another key.
    store.put_vault_key(vault, 1, &other).unwrap();
    assert_eq!(store.vault_key_epochs(vault).unwrap(), [0, 1]);
    assert!(store.vault_key(vault, 1).unwrap().unwrap().ct_eq(&other));
}

#[test]
fn outbox_is_ordered_and_survives_reopen() {
    let p = Profile::new();
    {
        let store = Store::open(p.db(), &p.keys()).unwrap();
        for i in 0..5 {
            store
                .enqueue("op", format!("op-data {i}").as_bytes())
                .unwrap();
        }
        let due = store.outbox_due(i64::MAX, 10).unwrap();
        store.outbox_ack(due[0].seq).unwrap();
        store.outbox_retry_at(due[1].seq, i64::MAX).unwrap();
        assert!(!format!("{:?}", due[2]).contains("op-data"));
    }
    let store = Store::open(p.db(), &p.keys()).unwrap();
    assert_eq!(store.outbox_len().unwrap(), 4);
    // Strict order: the entry waiting out its retry delay holds back the ones after it.
    assert!(store.outbox_due(1, 10).unwrap().is_empty());
    let due: Vec<String> = store
        .outbox_due(i64::MAX, 10)
        .unwrap()
        .iter()
        .map(|e| String::from_utf8(e.payload.to_vec()).unwrap())
        .collect();
    assert_eq!(due, ["op-data 1", "op-data 2", "op-data 3", "op-data 4"]);
}

#[test]
fn pending_approvals_round_trip() {
    let p = Profile::new();
    let store = Store::open(p.db(), &p.keys()).unwrap();
    let rid = Uuid::new_v4();
    store
        .put_pending_approval(
            rid,
            ApprovalSide::Requester,
            b"{\"qr_secret\":\"...\"}",
            1234,
        )
        .unwrap();
    let row = store.pending_approval(rid).unwrap().unwrap();
    assert_eq!(row.role, ApprovalSide::Requester);
    assert_eq!(row.expires_at_ms, 1234);
    assert_eq!(row.payload.as_slice(), b"{\"qr_secret\":\"...\"}");
    store.delete_pending_approval(rid).unwrap();
    assert!(store.pending_approval(rid).unwrap().is_none());
}

#[test]
fn wipe_shreds_everything() {
    let p = Profile::new();
    let keys = p.keys();
    let store = Store::open(p.db(), &keys).unwrap();
    let vault = Uuid::new_v4();
    let key = VaultKey::generate().unwrap();
    store
        .save_identity(&DeviceIdentity::generate().unwrap())
        .unwrap();
    store.create_vault(vault, "V", &key).unwrap();
    store.put_item(&item(vault, &key, "gone")).unwrap();
    store.audit("vault_created", "V").unwrap();
    let key_files = || {
        std::fs::read_dir(p.dir.path().join("keys"))
            .unwrap()
            .count()
    };
    assert_eq!(key_files(), 1);
    let old_key = std::fs::read_dir(p.dir.path().join("keys"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    store.wipe(&keys).unwrap();
    assert!(store.identity().unwrap().is_none());
    assert!(store.vaults().unwrap().is_empty());
    assert_eq!(store.item_count().unwrap(), 0);
    // Every table is empty but `meta` (the fresh key's canary): none is forgotten, the
    // audit log (names of vaults and devices) and the per-epoch keys included.
    let raw = rusqlite::Connection::open(p.db()).unwrap();
    let tables: Vec<String> = raw
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(tables.contains(&"audit_log".to_owned()), "{tables:?}");
    for t in tables.iter().filter(|t| *t != "meta") {
        let rows: i64 = raw
            .query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 0, "table {t} kept {rows} row(s) after the wipe");
    }
    // The old wrapping key is destroyed and a fresh one wraps the (empty) database.
    assert!(!old_key.exists());
    assert_eq!(key_files(), 1);
    store.enqueue("op", b"after wipe").unwrap();
    drop(store);
    let store = Store::open(p.db(), &keys).unwrap();
    assert_eq!(store.outbox_len().unwrap(), 1);
    assert!(store.integrity_check().unwrap());
}
