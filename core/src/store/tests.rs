//! On-disk checks that need the raw key bytes (so they live inside the crate).

use uuid::Uuid;

use super::{Store, StoredItem};
use crate::{
    crypto::{DeviceIdentity, ItemAad, VaultKey, seal_item},
    keystore::SoftwareSecretStore,
};

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn files(db: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    ["", "-wal", "-shm"]
        .iter()
        .filter_map(|suffix| {
            let p = format!("{}{suffix}", db.display());
            std::fs::read(&p).ok().map(|b| (p, b))
        })
        .collect()
}

#[test]
fn no_plaintext_key_or_item_bytes_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("vouch.db");
    let keys = SoftwareSecretStore::open(dir.path().join("keys")).unwrap();
    let plaintext = b"PLAINTEXT-correct-horse-battery-staple-4242";
    let identity = DeviceIdentity::generate().unwrap();
    let vault_key = VaultKey::generate().unwrap();
    let vault = Uuid::new_v4();
    let token = b"TOKEN-abcdefghijklmnopqrstuvwxyz012345";
    let qr_secret = b"QRSECRET-0123456789abcdef0123456789";
    let db_key: [u8; 32];
    {
        let store = Store::open(&db, &keys).unwrap();
        db_key = *store.cipher().cipher._key;
        store.save_identity(&identity).unwrap();
        store.create_vault(vault, "Personal", &vault_key).unwrap();
        let items: Vec<StoredItem> = (0..50)
            .map(|v| {
                let item_id = Uuid::new_v4();
                let sealed = seal_item(
                    &vault_key,
                    &ItemAad {
                        vault_id: vault,
                        item_id,
                        version: v,
                        epoch: 0,
                    },
                    Some(plaintext),
                )
                .unwrap();
                StoredItem {
                    vault_id: vault,
                    item_id,
                    version: v,
                    sealed: Some(sealed),
                    deleted: false,
                    dirty: true,
                    high: v,
                }
            })
            .collect();
        store.put_items(&items).unwrap();
        store
            .save_account("http://127.0.0.1:1", "{}", Some(token))
            .unwrap();
        store
            .put_pending_approval(Uuid::new_v4(), super::ApprovalSide::Requester, qr_secret, 0)
            .unwrap();
        store.enqueue("put_item", plaintext).unwrap();

        let secrets: [(&str, &[u8]); 6] = [
            ("item plaintext", plaintext),
            ("vault key", vault_key.expose()),
            ("identity secret", &identity.secret_bytes()[..]),
            ("database key", &db_key),
            ("token", token),
            ("qr secret", qr_secret),
        ];
        // While open (pages in the WAL) and after close (checkpointed into the file).
        let check = |when: &str| {
            let found = files(&db);
            assert!(found.iter().any(|(p, _)| p.ends_with(".db")));
            for (path, bytes) in &found {
                for (what, needle) in secrets {
                    assert!(!contains(bytes, needle), "{what} found in {path} ({when})");
                }
            }
        };
        check("open");
        drop(store);
        check("closed");
    }
    // A positive control: the grep does find bytes that are stored in the clear.
    assert!(files(&db).iter().any(|(_, b)| contains(b, b"Personal")));
}

#[test]
fn debug_output_is_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let keys = SoftwareSecretStore::open(dir.path().join("keys")).unwrap();
    let store = Store::open(dir.path().join("v.db"), &keys).unwrap();
    let key_hex: String = store
        .cipher()
        .cipher
        ._key
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let dbg = format!("{store:?}");
    assert!(dbg.contains("<redacted>"));
    assert!(!dbg.contains(&key_hex[..16]));
    let id = DeviceIdentity::generate().unwrap();
    let secret_hex: String = id
        .secret_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let dbg = format!("{id:?} {id:#?}");
    assert!(!dbg.contains(&secret_hex[..12]));
    let secret_dec = format!("{:?}", &id.secret_bytes()[..4]);
    assert!(!dbg.contains(&secret_dec[1..secret_dec.len() - 1]));
}
