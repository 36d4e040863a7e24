//! Crash stress of the rotation after a revocation (issue 15): a key holder's client
//! process (`vouch-e2e-client … rotate`) disables a device — the signed revocation on the
//! vouch chain, the new key epoch of the vault, the background re-encryption of every old
//! item in batches, the uploads — and writes new items, against a real `vouch-e2e-server`;
//! this process SIGKILLs it at random points and restarts it until it finishes. One user,
//! one vault of `--items` items; each iteration revokes a new device (approved by another
//! key holder, its profile copied first as a thief would), so the vault goes through one
//! rotation per iteration.
//!
//! After every kill: `PRAGMA integrity_check` is `ok`, the profile opens trusted, and every
//! item (the old ones and each new one acknowledged with `ACK`) reads back its exact
//! plaintext on the killed device. After each iteration, once the child finished:
//!
//! - the server's vault is at one newest epoch (one more than before: one rotation), and
//!   every item it stores is sealed under it;
//! - every old item was sealed again exactly once (its version went up by one), no item
//!   is missing and there is no extra one (no conflict copies);
//! - the killed device has nothing left queued or to re-encrypt, and reads every item;
//! - another key holder syncs and reads every item's exact plaintext;
//! - the revoked device is revoked on the chain, and its kept profile copy (opened offline
//!   with its own key store) holds no key of the new epoch and opens none of the server's
//!   items with any key it has.
//!
//! `vouch-rotation-stress [--iterations N] [--items N] [--new-items N] [--kills N]
//! [--seed S]`; prints one summary line and exits non-zero on any failure.

// A stress binary: a failed unwrap is a failure it reports, not a crash in an app.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    collections::HashMap,
    path::Path,
    time::{Duration, Instant},
};

use uuid::Uuid;
use vouch_core::{
    Client, TlsPolicy,
    crypto::{ItemAad, open_item, sealed_item_epoch},
    keystore::SoftwareSecretStore,
    proto::DeviceKind,
    store::Store,
};
use vouch_e2e::{
    Device, Rng, child_device_info, copy_profile, enroll_by_approval, enroll_by_email,
    integrity_check, item_text, kills_by_step, missing_children, numeric_flags, rand_seed,
    server_items, server_vault_epoch, sibling, spawn_client_process,
};
use vouch_testkit::TestServer;

const EMAIL: &str = "carol@acme.test";
/// How long a child may take to finish once it is not killed any more.
const FINISH_TIMEOUT: Duration = Duration::from_secs(120);

struct Args {
    iterations: u32,
    items: usize,
    new_items: usize,
    kills: u64,
    seed: u64,
}

fn parse_args() -> Result<Args, String> {
    let f = numeric_flags(&[
        ("iterations", 3),
        ("items", 450),
        ("new-items", 3),
        ("kills", 4),
        ("seed", rand_seed()),
    ])?;
    Ok(Args {
        iterations: u32::try_from(f["iterations"]).map_err(|_| "bad --iterations")?,
        items: f["items"] as usize,
        new_items: f["new-items"] as usize,
        kills: f["kills"],
        seed: f["seed"],
    })
}

/// What the runs saw.
#[derive(Default)]
struct Tally {
    kills: u64,
    kills_by_step: HashMap<String, u64>,
    reencrypted: u64,
}

fn open_rotator(profile: &Path, url: &str) -> Result<Client, String> {
    vouch_e2e::open_client(
        profile,
        url,
        child_device_info(profile),
        None,
        TlsPolicy::default(),
    )
    .map_err(|e| format!("the rotator's profile does not open: {e}"))
}

/// When to kill a run: `delay` after the child printed its `nth` line starting with
/// `after` (`""` and 0: after it started). A run that never prints it is not killed.
struct KillAt {
    after: &'static str,
    nth: u64,
    delay: Duration,
}

/// Lines a kill can follow: the revocation starting, the new key stored (`rotated`), each
/// re-encryption batch committed, each new item written, each sync.
const KILL_AFTER: [&str; 5] = [
    "STEP disable",
    "LOG rotated",
    "LOG re-encrypted",
    "ACK ",
    "STEP sync",
];

/// Runs the child once: `Ok(Some(step))` when it was killed (the last step it announced),
/// `Ok(None)` when it finished. Every `ACK` line's item goes to `acked`.
async fn run_child(
    env: &Env,
    device: Uuid,
    total: usize,
    kill: Option<KillAt>,
    acked: &mut Vec<Uuid>,
) -> Result<Option<String>, String> {
    let (mut child, mut lines) = spawn_client_process(
        &env.rotator,
        &[
            env.url.as_str(),
            "rotate",
            &env.vault.to_string(),
            &device.to_string(),
            &total.to_string(),
        ],
    )?;
    let deadline = Instant::now() + FINISH_TIMEOUT;
    let mut kill_at = match &kill {
        Some(k) if k.nth == 0 => Some(Instant::now() + k.delay),
        _ => None,
    };
    let mut seen = 0;
    let mut step = "start".to_owned();
    loop {
        let until = kill_at.unwrap_or(deadline).min(deadline);
        let line = tokio::select! {
            l = lines.next_line() => l.map_err(|e| e.to_string())?,
            () = tokio::time::sleep_until(until.into()) => {
                child.start_kill().map_err(|e| format!("kill: {e}"))?;
                let _ = child.wait().await;
                if kill_at.is_some() {
                    return Ok(Some(step));
                }
                return Err(format!("stuck at step {step} for {FINISH_TIMEOUT:?}"));
            }
        };
        let Some(l) = line else {
            let status = child.wait().await.map_err(|e| e.to_string())?;
            return Err(format!(
                "client exited ({status}) at step {step} without DONE"
            ));
        };
        if kill.as_ref().is_some_and(|k| l.starts_with(k.after)) {
            seen += 1;
        }
        if let Some(s) = l.strip_prefix("STEP ") {
            step = s.to_owned();
        } else if l.starts_with("LOG rotated") {
            step = "rotated".into();
        } else if l.starts_with("LOG re-encrypted") {
            step = "reencrypt_batch".into();
        } else if let Some(id) = l.strip_prefix("ACK ") {
            acked.push(id.parse().map_err(|_| format!("bad ACK line {l}"))?);
        } else if l == "DONE" {
            let _ = child.wait().await;
            return Ok(None);
        } else if let Some(e) = l.strip_prefix("ERROR ") {
            let _ = child.wait().await;
            return Err(format!("client failed at step {step}: {e}"));
        }
        if let Some(k) = &kill
            && k.nth == seen
        {
            kill_at.get_or_insert(Instant::now() + k.delay);
        }
    }
}

/// Every item in `ids` reads back its exact plaintext on `client`.
fn reads_every_item(client: &Client, vault: Uuid, ids: &[Uuid]) -> Result<(), String> {
    for id in ids {
        let got = client
            .get_item(vault, *id)
            .map_err(|e| format!("get_item {id}: {e}"))?;
        if got.as_deref() != Some(item_text(*id).as_bytes()) {
            return Err(format!("item {id} is missing or changed"));
        }
    }
    Ok(())
}

/// After a kill: the file is intact, the profile opens trusted, every item reads back.
fn check_after_kill(env: &Env, ids: &[Uuid]) -> Result<(), String> {
    integrity_check(&env.rotator.join(vouch_core::DATABASE_FILE))?;
    let client = open_rotator(&env.rotator, &env.url)?;
    if !client.state().is_key_holder() {
        return Err(format!(
            "the rotator is no key holder after a kill: {}",
            client.state().name()
        ));
    }
    reads_every_item(&client, env.vault, ids)
}

struct Env {
    url: String,
    server: TestServer,
    root: tempfile::TempDir,
    rotator: std::path::PathBuf,
    holder: Device,
    vault: Uuid,
    /// How long writing and sending the vault's items took at the start (a measure of
    /// this machine's speed, to spread the kills over a whole run; never asserted on).
    write_time: Duration,
}

/// One iteration: a new key holder approved and copied, then revoked by the child, killed
/// `1..=kills` times, restarted until it finishes; then the checks.
async fn iteration(
    env: &Env,
    i: u32,
    args: &Args,
    total: &mut usize,
    rng: &mut Rng,
    t: &mut Tally,
) -> Result<(), String> {
    // The device to revoke, approved by the other key holder (which holds the newest key),
    // its profile copied and kept offline.
    env.holder
        .client
        .sync()
        .await
        .map_err(|e| format!("holder sync: {e}"))?;
    let stolen = Device::open(
        env.root.path(),
        &format!("stolen-{i}"),
        &env.url,
        DeviceKind::Mobile,
    );
    enroll_by_approval(&stolen.client, &env.holder.client, EMAIL).await;
    stolen
        .client
        .sync()
        .await
        .map_err(|e| format!("stolen sync: {e}"))?;
    let device = stolen.client.state().device_id().ok_or("no device id")?;
    let kept = env.root.path().join(format!("kept-{i}"));
    copy_profile(&stolen.dir, &kept);
    drop(stolen);

    let epoch_before = server_vault_epoch(&env.server, env.vault);
    let before: HashMap<Uuid, u64> = server_items(&env.server, env.vault)
        .into_iter()
        .map(|it| (it.item_id, it.version))
        .collect();
    let target = *total + args.new_items;
    let mut acked = Vec::new();
    // Kill points: anywhere in a whole run, or right after the n-th line of a kind (the
    // revocation, the rotation, a re-encryption batch, a new item, a sync) at four delay
    // scales, from inside the next step to well into the ones after it.
    let batches = args.items.div_ceil(vouch_core::REENCRYPT_BATCH) as u64;
    for run in 0..1 + rng.below(args.kills) {
        // A restarted run neither revokes nor rotates again (that is done): its kills aim
        // at what it still does, or anywhere in it.
        let (kinds, anywhere) = if run == 0 {
            (&KILL_AFTER[..], 4)
        } else {
            (&KILL_AFTER[2..], 2)
        };
        let kill = if rng.below(anywhere) == 0 {
            // The revocation, the rotation, every batch and upload take about as long as
            // writing the items took at the start.
            let span = env.write_time.as_micros() as u64 * 3 / 2 + 300_000;
            KillAt {
                after: "",
                nth: 0,
                delay: Duration::from_micros(rng.below(span)),
            }
        } else {
            let after = kinds[rng.below(kinds.len() as u64) as usize];
            let of_kind = match after {
                "LOG re-encrypted" => batches,
                "ACK " => args.new_items as u64,
                _ => 2,
            };
            let scale = [200, 2_000, 20_000, 200_000][rng.below(4) as usize];
            KillAt {
                after,
                nth: 1 + rng.below(of_kind),
                delay: Duration::from_micros(rng.below(scale)),
            }
        };
        match run_child(env, device, target, Some(kill), &mut acked).await? {
            Some(step) => {
                t.kills += 1;
                *t.kills_by_step.entry(step).or_default() += 1;
                let known: Vec<Uuid> = before.keys().copied().chain(acked.clone()).collect();
                check_after_kill(env, &known).map_err(|e| format!("after a kill: {e}"))?;
            }
            None => break,
        }
    }
    if run_child(env, device, target, None, &mut acked)
        .await?
        .is_some()
    {
        return Err("the last run was killed".into());
    }

    // One rotation: every stored item under the one newest epoch, each old item sealed
    // again once, the new ones all there, nothing extra.
    let epoch = server_vault_epoch(&env.server, env.vault);
    if epoch != epoch_before + 1 {
        return Err(format!(
            "the vault is at epoch {epoch}, wanted one rotation from {epoch_before}"
        ));
    }
    let stored = server_items(&env.server, env.vault);
    if stored.len() != target {
        return Err(format!(
            "the server holds {} items, wanted {target} (lost writes or conflict copies)",
            stored.len()
        ));
    }
    for it in &stored {
        let sealed_at = sealed_item_epoch(&it.ciphertext).map_err(|e| e.to_string())?;
        if sealed_at != epoch {
            return Err(format!(
                "item {} is still sealed under epoch {sealed_at} (newest {epoch})",
                it.item_id
            ));
        }
        match before.get(&it.item_id) {
            Some(v) if it.version != v + 1 => {
                return Err(format!(
                    "old item {} went from version {v} to {}: re-encrypted {} times",
                    it.item_id,
                    it.version,
                    it.version.saturating_sub(*v)
                ));
            }
            // A new item, written once (and sealed again once if it was delivered under
            // the old key before the rotation).
            None if it.version > 2 => {
                return Err(format!("new item {} at version {}", it.item_id, it.version));
            }
            _ => {}
        }
    }
    t.reencrypted += before.len() as u64;
    let ids: Vec<Uuid> = stored.iter().map(|it| it.item_id).collect();
    if let Some(missing) = acked.iter().find(|id| !ids.contains(id)) {
        return Err(format!("acknowledged item {missing} is not on the server"));
    }

    // The killed device: done, and it reads everything.
    let rotator = open_rotator(&env.rotator, &env.url)?;
    let queued = rotator.queued_operations().map_err(|e| e.to_string())?;
    let pending = rotator.reencryption_pending().map_err(|e| e.to_string())?;
    let local = rotator
        .list_items(env.vault)
        .map_err(|e| e.to_string())?
        .len();
    if queued != 0 || pending != 0 || local != target {
        return Err(format!(
            "the rotator has {queued} queued, {pending} to re-encrypt, {local} items (wanted {target})"
        ));
    }
    reads_every_item(&rotator, env.vault, &ids)?;
    drop(rotator);

    // Another key holder reads everything, and sees the revocation on the chain.
    env.holder
        .client
        .sync()
        .await
        .map_err(|e| format!("holder sync: {e}"))?;
    reads_every_item(&env.holder.client, env.vault, &ids).map_err(|e| format!("holder: {e}"))?;
    let members = env
        .holder
        .client
        .chain_members()
        .await
        .map_err(|e| e.to_string())?;
    if members
        .iter()
        .find(|m| m.id == device)
        .is_none_or(|m| m.revoked_at.is_none())
    {
        return Err(format!("device {device} is not revoked on the chain"));
    }

    // The revoked device's kept copy, offline with its own key store: no key of the new
    // epoch, and none of its keys opens anything the server now stores.
    let keys = SoftwareSecretStore::open(kept.join("keys")).map_err(|e| e.to_string())?;
    let copy =
        Store::open(kept.join(vouch_core::DATABASE_FILE), &keys).map_err(|e| e.to_string())?;
    let epochs = copy
        .vault_key_epochs(env.vault)
        .map_err(|e| e.to_string())?;
    if epochs.contains(&epoch) || epochs.is_empty() {
        return Err(format!(
            "the revoked copy holds epochs {epochs:?} (newest {epoch})"
        ));
    }
    for e in epochs {
        let key = copy
            .vault_key(env.vault, e)
            .map_err(|e| e.to_string())?
            .ok_or("a listed key is missing")?;
        for it in &stored {
            let at = ItemAad {
                vault_id: env.vault,
                item_id: it.item_id,
                version: it.version,
                epoch,
            };
            if open_item(&key, &at, &it.ciphertext).is_ok() {
                return Err(format!(
                    "the revoked copy opens item {} with its key of epoch {e}",
                    it.item_id
                ));
            }
        }
    }
    *total = target;
    Ok(())
}

async fn setup(args: &Args) -> Env {
    let root = tempfile::tempdir().expect("temp dir");
    let server = TestServer::builder(sibling("vouch-e2e-server"))
        .data(root.path().join("server"))
        .args(&["--device-limit", "100000", "--approval-rate", "1000000"])
        .log_level("error")
        .start();
    let url = server.url().to_owned();
    // The rotator (the chain's root; a child process from here on) writes the vault's
    // items; the other key holder is approved by it.
    let rotator = root.path().join("rotator");
    let a = open_rotator(&rotator, &url).expect("rotator");
    enroll_by_email(&a, &url, EMAIL).await;
    let vault = a.create_vault("Rotated").await.expect("vault").id;
    let writing = Instant::now();
    for _ in 0..args.items {
        let id = Uuid::new_v4();
        a.put_item(vault, Some(id), item_text(id).as_bytes())
            .await
            .expect("put");
    }
    while a.flush_outbox().await.expect("flush").queued > 0 {}
    let write_time = writing.elapsed();
    let holder = Device::open(root.path(), "holder", &url, DeviceKind::Web);
    enroll_by_approval(&holder.client, &a, EMAIL).await;
    drop(a);
    Env {
        url,
        server,
        root,
        rotator,
        holder,
        vault,
        write_time,
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!(
                "{e}\nusage: vouch-rotation-stress [--iterations N] [--items N] [--new-items N] [--kills N] [--seed S]"
            );
            return std::process::ExitCode::from(2);
        }
    };
    if let Some(e) = missing_children("vouch-rotation-stress") {
        eprintln!("{e}");
        return std::process::ExitCode::from(2);
    }
    let start = Instant::now();
    let mut env = setup(&args).await;
    let mut rng = Rng(args.seed);
    let mut t = Tally::default();
    let mut total = args.items;
    let mut failure = None;
    for i in 0..args.iterations {
        if let Err(e) = iteration(&env, i, &args, &mut total, &mut rng, &mut t).await {
            failure = Some(format!("iteration {i} (seed {}): {e}", args.seed));
            break;
        }
    }
    env.server.stop();
    println!("kills by step: {}", kills_by_step(&t.kills_by_step));
    println!(
        "rotation-stress: {} iterations ({} rotations, {} items re-encrypted), {} kills, {} failures, seed {}, {:.1} s",
        args.iterations,
        args.iterations,
        t.reencrypted,
        t.kills,
        u32::from(failure.is_some()),
        args.seed,
        start.elapsed().as_secs_f64()
    );
    match failure {
        None => std::process::ExitCode::SUCCESS,
        Some(e) => {
            eprintln!("{e}");
            std::process::ExitCode::FAILURE
        }
    }
}
