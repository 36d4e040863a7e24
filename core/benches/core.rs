//! Speed of the core's hot paths on the shipped (release) profile.
//!
//! `cargo bench -p vouch-core --bench core` — the README reports the figures.

// A bench: a failed unwrap is a failed measurement, not an app crash.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use uuid::Uuid;
use vouch_aead::XChaCha20Poly1305;
use vouch_core::{
    crypto::{
        ApprovalCode, ApproverRun, ConfirmedRun, DeviceIdentity, Envelope, EnvelopeContext,
        EnvelopePurpose, ItemAad, PakePassword, RequesterRun, RunContext, VaultKey, open_item,
        seal_item,
    },
    keystore::SoftwareSecretStore,
    store::{Store, StoredItem},
};

fn items(c: &mut Criterion) {
    let key = VaultKey::generate().unwrap();
    // The bare cipher, compiled where the core's is (vouch-aead, opt-level 3).
    let raw = XChaCha20Poly1305::new(&[7u8; 32]);
    let at = ItemAad {
        vault_id: Uuid::new_v4(),
        item_id: Uuid::new_v4(),
        version: 1,
        epoch: 0,
    };
    let mut g = c.benchmark_group("item_seal_open");
    for size in [64usize, 1024, 65536] {
        let buf = vec![0x5au8; size];
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_function(format!("vouch/{size}"), |b| {
            b.iter(|| {
                let sealed = seal_item(&key, &at, Some(black_box(&buf[..]))).unwrap();
                black_box(open_item(&key, &at, &sealed).unwrap());
            })
        });
        g.bench_function(format!("raw_xchacha20poly1305/{size}"), |b| {
            b.iter(|| {
                let mut nonce = [0u8; 24];
                getrandom::fill(&mut nonce).unwrap();
                let ct = raw.encrypt(&nonce, black_box(&buf[..]), &[]).unwrap();
                black_box(raw.decrypt(&nonce, &ct[..], &[]).unwrap());
            })
        });
    }
    g.finish();
}

fn run_context(approver: &DeviceIdentity, requester: &DeviceIdentity) -> RunContext {
    vouch_core::fixtures::run_context(
        approver.public_key().bundle(),
        requester.public_key().bundle(),
    )
}

/// One whole PAKE run, both sides: SPAKE2, transcript, HKDF, both MACs.
fn run_pair(ctx: &RunContext, code: &ApprovalCode) -> (ConfirmedRun, RequesterRun) {
    let a = ApproverRun::start(PakePassword::Code(code), ctx.user_id, ctx.request_id).unwrap();
    let (b, answer) = RequesterRun::answer(PakePassword::Code(code), ctx, a.message()).unwrap();
    let confirmed = a.finish(ctx, &answer.msg_b, &answer.mac_b).unwrap();
    b.confirm(&confirmed.mac_a().unwrap()).unwrap();
    (confirmed, b)
}

fn approvals(c: &mut Criterion) {
    let approver = DeviceIdentity::generate().unwrap();
    let requester = DeviceIdentity::generate().unwrap();
    let ctx = run_context(&approver, &requester);
    let code = ApprovalCode::generate().unwrap();
    let mut g = c.benchmark_group("approval");
    g.throughput(Throughput::Elements(1));
    g.bench_function("pake_run_both_sides", |b| {
        b.iter(|| black_box(run_pair(&ctx, &code)))
    });
    let (confirmed, b_run) = run_pair(&ctx, &code);
    let key = VaultKey::generate().unwrap();
    let ectx = EnvelopeContext {
        purpose: EnvelopePurpose::Approval,
        user_id: ctx.user_id,
        request_id: ctx.request_id,
        vault_id: Uuid::new_v4(),
        epoch: 0,
    };
    g.bench_function("envelope_auth_psk_seal_open", |b| {
        b.iter(|| {
            let env = Envelope::seal(
                &key,
                &approver,
                requester.public_key(),
                confirmed.psk(),
                &ectx,
            )
            .unwrap();
            black_box(
                env.open(&requester, approver.public_key(), b_run.psk(), &ectx)
                    .unwrap(),
            );
        })
    });
    g.finish();
}

fn new_store() -> (tempfile::TempDir, Store, Uuid, VaultKey) {
    let dir = tempfile::tempdir().unwrap();
    let keys = SoftwareSecretStore::open(dir.path().join("keys")).unwrap();
    let store = Store::open(dir.path().join("vouch.db"), &keys).unwrap();
    let vault = Uuid::new_v4();
    let key = VaultKey::generate().unwrap();
    store.create_vault(vault, "bench", &key).unwrap();
    (dir, store, vault, key)
}

fn sealed_item(vault: Uuid, key: &VaultKey) -> StoredItem {
    vouch_core::fixtures::new_stored_item(vault, key, &[0x33; 256])
}

fn store(c: &mut Criterion) {
    let mut g = c.benchmark_group("store");
    g.sample_size(10);
    g.measurement_time(std::time::Duration::from_secs(5));

    let (_dir, store, vault, key) = new_store();
    g.throughput(Throughput::Elements(1));
    g.bench_function("put_item/1_per_tx", |b| {
        b.iter_batched(
            || sealed_item(vault, &key),
            |it| store.put_item(&it).unwrap(),
            BatchSize::SmallInput,
        )
    });
    g.throughput(Throughput::Elements(1000));
    g.bench_function("put_items/1000_per_tx", |b| {
        b.iter_batched(
            || {
                (0..1000)
                    .map(|_| sealed_item(vault, &key))
                    .collect::<Vec<_>>()
            },
            |batch| store.put_items(&batch).unwrap(),
            BatchSize::LargeInput,
        )
    });
    drop(store);

    let (dir, store, vault, key) = new_store();
    for _ in 0..10 {
        store
            .put_items(
                &(0..1000)
                    .map(|_| sealed_item(vault, &key))
                    .collect::<Vec<_>>(),
            )
            .unwrap();
    }
    let path = store.path().to_path_buf();
    drop(store);
    let keys = SoftwareSecretStore::open(dir.path().join("keys")).unwrap();
    g.throughput(Throughput::Elements(1));
    g.bench_function("open/10000_items", |b| {
        b.iter(|| {
            let s = Store::open(&path, &keys).unwrap();
            black_box(s.item_count().unwrap());
        })
    });
    g.finish();
}

/// A chain of `devices` key holders (each vouched by the one before), then `revocations`
/// rounds of one revocation and one new vouch, as links.
fn chain_of(devices: usize, rounds: usize) -> (Uuid, Vec<vouch_core::chain::Link>) {
    use vouch_core::chain::{ChainKey, LinkBody, Member, Role, Unsigned};
    let user = Uuid::new_v4();
    let member = |key: &ChainKey| Member {
        id: Uuid::new_v4(),
        role: Role::Device,
        x25519: *DeviceIdentity::generate().unwrap().public_key().as_bytes(),
        ed25519: key.public(),
    };
    let first = ChainKey::generate().unwrap();
    let first_member = member(&first);
    let mut links = vec![Unsigned::root(user, first_member, 0).sign(&first)];
    let mut live = vec![(first_member, first)];
    let add = |links: &mut Vec<vouch_core::chain::Link>, live: &mut Vec<_>| {
        let key = ChainKey::generate().unwrap();
        let m = member(&key);
        let (approver, approver_key): &(Member, ChainKey) = live.last().unwrap();
        let body = LinkBody::Vouch {
            member: m,
            approver: approver.id,
        };
        let l = Unsigned::after(links.last().unwrap(), approver_key.public(), body, 0)
            .reverse_sign(&key)
            .sign(approver_key);
        links.push(l);
        live.push((m, key));
    };
    for _ in 1..devices {
        add(&mut links, &mut live);
    }
    for _ in 0..rounds {
        let (gone, _) = live.remove(0);
        let (_, by) = live.last().unwrap();
        let body = LinkBody::Revoke { member: gone.id };
        links.push(Unsigned::after(links.last().unwrap(), by.public(), body, 0).sign(by));
        add(&mut links, &mut live);
    }
    (user, links)
}

fn chain(c: &mut Criterion) {
    let mut g = c.benchmark_group("chain_verify");
    for (name, devices, rounds) in [("20 devices", 20, 0), ("1000 links", 20, 490)] {
        let (user, links) = chain_of(devices, rounds);
        g.throughput(Throughput::Elements(links.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| black_box(vouch_core::chain::Chain::verify(user, &links).unwrap()))
        });
    }
    g.finish();
}

criterion_group!(benches, items, approvals, store, chain);
criterion_main!(benches);
