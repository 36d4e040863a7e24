//! Crash-consistency stress: runs a device's whole life (`vouch-e2e-client … life`) in a
//! child process against a real `vouch-e2e-server`, SIGKILLs it at random points —
//! during sign-in, registration, email-code verification, approval (while it waits, in
//! the middle of the approver's PAKE run, and while it receives and acknowledges the
//! envelopes) and vault writes — restarts it, and after every kill checks that
//!
//! - `PRAGMA integrity_check` says `ok` on the profile database,
//! - the profile opens and its enrollment state is legal (never `wiped`),
//! - every item the child acknowledged (`ACK`) is still there with its content,
//!
//! and at the end of each iteration that the device recovered by itself (trusted, holds
//! the vault key, nothing left queued) and that the server has every acknowledged write
//! exactly once (no spurious conflict copies).
//!
//! The approver (a key holder in this process) plays the person: when the child shows a
//! code (`REQUEST <id> <code>`), it types it in while the child waits — the approval runs
//! in a task of its own, so the child can be killed in the middle of the run. A run the
//! killed child never answered ends in "no answer" and the person tries again; a code
//! used up by runs lost to kills makes the child ask for a new one, as the person would.
//!
//! `vouch-crash-stress [--iterations N] [--items N] [--seed S]`; prints one summary line
//! and exits non-zero on any inconsistency, lost write or stuck device.

// A stress binary: a failed unwrap is a failure it reports, not a crash in an app.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};

use tokio::{process::Child, sync::mpsc, task::JoinHandle};
use uuid::Uuid;
use vouch_core::{Client, DeviceInfo, EnrollmentState, TlsPolicy, proto::DeviceKind};
use vouch_e2e::{
    Rng, enroll_by_email, integrity_check, item_text, kills_by_step, missing_children,
    numeric_flags, rand_seed, sibling, spawn_client_process,
};
use vouch_testkit::TestServer;

const EMAIL: &str = "alice@acme.test";
/// How long a child may take to finish its life once it is not killed any more.
const FINISH_TIMEOUT: Duration = Duration::from_secs(60);

struct Args {
    iterations: u32,
    items: usize,
    seed: u64,
}

fn parse_args() -> Result<Args, String> {
    let f = numeric_flags(&[("iterations", 20), ("items", 8), ("seed", rand_seed())])?;
    Ok(Args {
        iterations: u32::try_from(f["iterations"]).map_err(|_| "bad --iterations")?,
        items: f["items"] as usize,
        seed: f["seed"],
    })
}

/// What went wrong in one iteration.
#[derive(Default)]
struct Tally {
    kills: u64,
    integrity_failures: u64,
    illegal_states: u64,
    lost_writes: u64,
    stuck: u64,
    extra_items: u64,
    kills_by_step: HashMap<String, u64>,
}

impl Tally {
    fn inconsistencies(&self) -> u64 {
        self.integrity_failures + self.illegal_states + self.extra_items
    }
}

fn open_client(profile: &Path, url: &str) -> vouch_core::Result<Client> {
    let info = DeviceInfo {
        kind: DeviceKind::Web,
        model: "Stress".into(),
        os: "Linux".into(),
        app: "crash-stress".into(),
    };
    vouch_e2e::open_client(profile, url, info, None, TlsPolicy::default())
}

/// Lines a child printed, as they come.
enum Line {
    Out(String),
    Closed,
}

fn spawn_child(
    profile: &Path,
    url: &str,
    method: &str,
    items: usize,
    vault: Uuid,
) -> (Child, mpsc::UnboundedReceiver<Line>) {
    let (child, mut lines) = spawn_client_process(
        profile,
        &[
            url,
            "life",
            EMAIL,
            method,
            &items.to_string(),
            &vault.to_string(),
        ],
    )
    .expect("spawn vouch-e2e-client");
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(Some(l)) = lines.next_line().await {
            if tx.send(Line::Out(l)).is_err() {
                return;
            }
        }
        let _ = tx.send(Line::Closed);
    });
    (child, rx)
}

/// When to kill a run: after the n-th line the child prints (then a random delay), a
/// random delay after the approver started typing the code in (the PAKE run: the child
/// counts, answers, waits for the approver's MAC), or a random delay after the approver's
/// approval went through (envelope receipt and acknowledgement).
enum KillAt {
    Line { n: u64, delay_us: u64 },
    DuringRun { delay_us: u64 },
    AfterApproval { delay_us: u64 },
    Never,
}

/// Approvals that went through, runs the killed child never answered ("no answer", typed
/// again), and codes used up by runs lost to kills (the child asked for a new one).
static APPROVED: AtomicU64 = AtomicU64::new(0);
static NO_ANSWER: AtomicU64 = AtomicU64::new(0);
static USED_UP: AtomicU64 = AtomicU64::new(0);

/// The approver's side of one iteration, kept across the child's restarts: the code the
/// child shows last, and the approval in flight (one at a time, as one person types).
#[derive(Default)]
struct Approving {
    shown: Option<(Uuid, String)>,
    started_with: Option<(Uuid, String)>,
    task: Option<JoinHandle<vouch_core::Result<()>>>,
}

impl Approving {
    /// Types the code shown last into the approver (in a task: `approve` returns once the
    /// child answered the run and the approval went through).
    fn start(&mut self, approver: &Client) {
        let Some((id, code)) = self.shown.clone() else {
            return;
        };
        if let Some(old) = self.task.take() {
            old.abort();
        }
        let a = approver.clone();
        let typed = code.clone();
        self.task = Some(tokio::spawn(async move {
            a.pending_requests().await?;
            a.approve(id, &typed).await
        }));
        self.started_with = Some((id, code));
    }

    /// The approval in flight ended. `Ok(true)`: it went through; `Ok(false)`: nothing
    /// to do now (or started again); `Err`: it failed in a way no crash explains.
    fn finished(
        &mut self,
        approver: &Client,
        r: Result<vouch_core::Result<()>, tokio::task::JoinError>,
    ) -> Result<bool, String> {
        self.task = None;
        match r.map_err(|e| format!("approver task: {e}"))? {
            Ok(()) => {
                APPROVED.fetch_add(1, Ordering::Relaxed);
                Ok(true)
            }
            // The child was killed after it counted the run but before its answer left:
            // the person sees "no answer" and types the code again.
            Err(vouch_core::Error::NoAnswer) => {
                NO_ANSWER.fetch_add(1, Ordering::Relaxed);
                self.start(approver);
                Ok(false)
            }
            Err(vouch_core::Error::CodeUsedUp) => {
                USED_UP.fetch_add(1, Ordering::Relaxed);
                Ok(false)
            }
            // Runs lost to kills used the code up: the child asks for a new one and
            // shows it (a new REQUEST line). Or the request was decided or replaced
            // (already approved before a crash, cancelled by a new code): fine.
            Err(vouch_core::Error::Server { .. } | vouch_core::Error::UnknownRequest) => Ok(false),
            Err(e) => Err(format!("approve: {e}")),
        }
    }

    /// Waits for the approval in flight at the end of an iteration (the child is done).
    async fn settle(&mut self) -> Result<(), String> {
        let Some(task) = self.task.take() else {
            return Ok(());
        };
        match tokio::time::timeout(FINISH_TIMEOUT, task).await {
            Err(_) => Err("the approver's run never ended".into()),
            Ok(Err(e)) => Err(format!("approver task: {e}")),
            Ok(Ok(
                Ok(())
                | Err(
                    vouch_core::Error::NoAnswer
                    | vouch_core::Error::CodeUsedUp
                    | vouch_core::Error::Server { .. }
                    | vouch_core::Error::UnknownRequest,
                ),
            )) => Ok(()),
            Ok(Ok(Err(e))) => Err(format!("approve: {e}")),
        }
    }
}

/// Runs the child once. Returns the last step it announced before it was killed (or
/// `None` when it finished with `DONE`).
async fn run_once(
    env: &Env,
    profile: &Path,
    method: &str,
    items: usize,
    kill: KillAt,
    acked: &mut Vec<Uuid>,
    approving: &mut Approving,
) -> Result<Option<String>, String> {
    let approver = &env.approver;
    let (mut child, mut rx) = spawn_child(profile, &env.url, method, items, env.vault);
    let mut seen = 0u64;
    let mut step = "start".to_owned();
    // The window a timed kill aims at, reported instead of the last step announced.
    let mut aimed_at: Option<&str> = None;
    let deadline = Instant::now() + FINISH_TIMEOUT;
    let mut kill_deadline: Option<Instant> = None;
    if let KillAt::Line { n: 0, delay_us } = kill {
        kill_deadline = Some(Instant::now() + Duration::from_micros(delay_us));
    }
    loop {
        let wait_until = kill_deadline.unwrap_or(deadline).min(deadline);
        let in_flight = approving.task.is_some();
        let event = tokio::select! {
            l = rx.recv() => Ok(l),
            r = async { approving.task.as_mut().expect("in flight").await }, if in_flight => Err(r),
            _ = tokio::time::sleep_until(wait_until.into()) => {
                if kill_deadline.is_some() {
                    child.start_kill().map_err(|e| format!("kill: {e}"))?;
                    let _ = child.wait().await;
                    return Ok(Some(aimed_at.map_or(step, str::to_owned)));
                }
                let _ = child.start_kill();
                return Err(format!("stuck at step {step} for {FINISH_TIMEOUT:?}"));
            }
        };
        let line = match event {
            Ok(line) => line,
            Err(done) => {
                if approving.finished(approver, done)?
                    && let KillAt::AfterApproval { delay_us } = kill
                    && kill_deadline.is_none()
                {
                    aimed_at = Some("envelope_receipt");
                    kill_deadline = Some(Instant::now() + Duration::from_micros(delay_us));
                }
                continue;
            }
        };
        match line {
            Some(Line::Out(l)) => {
                seen += 1;
                if let Some(s) = l.strip_prefix("STEP ") {
                    step = s.to_owned();
                } else if let Some(id) = l.strip_prefix("ACK ") {
                    acked.push(id.parse().map_err(|_| format!("bad ACK line {l}"))?);
                    step = "write".into();
                } else if let Some(rest) = l.strip_prefix("REQUEST ") {
                    let mut parts = rest.split(' ');
                    let (Some(id), Some(code)) = (parts.next(), parts.next()) else {
                        return Err(format!("bad line {l}"));
                    };
                    let id: Uuid = id.parse().map_err(|_| format!("bad request id in {l}"))?;
                    approving.shown = Some((id, code.to_owned()));
                    // A restarted child shows the same code: the run in flight (if any)
                    // is still the one it answers. A new code replaces it.
                    if approving.task.is_none() || approving.started_with != approving.shown {
                        approving.start(approver);
                    }
                    if let KillAt::DuringRun { delay_us } = kill
                        && approving.task.is_some()
                        && kill_deadline.is_none()
                    {
                        aimed_at = Some("pake_run");
                        kill_deadline = Some(Instant::now() + Duration::from_micros(delay_us));
                    }
                } else if l == "DONE" {
                    let _ = child.wait().await;
                    return Ok(None);
                } else if let Some(e) = l.strip_prefix("ERROR ") {
                    let _ = child.wait().await;
                    return Err(format!("client failed at step {step}: {e}"));
                }
                if let KillAt::Line { n, delay_us } = kill
                    && seen == n
                {
                    kill_deadline.get_or_insert(Instant::now() + Duration::from_micros(delay_us));
                }
            }
            Some(Line::Closed) | None => {
                let status = child.wait().await.map_err(|e| e.to_string())?;
                return Err(format!(
                    "client exited ({status}) at step {step} without DONE"
                ));
            }
        }
    }
}

/// After a kill: the file is intact, the profile opens in a legal state, and every
/// acknowledged item reads back.
fn check_after_kill(
    profile: &Path,
    url: &str,
    vault: Uuid,
    acked: &[Uuid],
    t: &mut Tally,
) -> Result<(), String> {
    let db = profile.join(vouch_core::DATABASE_FILE);
    if db.exists()
        && let Err(e) = integrity_check(&db)
    {
        t.integrity_failures += 1;
        return Err(e);
    }
    let client = match open_client(profile, url) {
        Ok(c) => c,
        Err(e) => {
            t.illegal_states += 1;
            return Err(format!("profile does not open: {e}"));
        }
    };
    let state = client.state();
    if matches!(state, EnrollmentState::Wiped) {
        t.illegal_states += 1;
        return Err("a crash wiped the device".into());
    }
    if !acked.is_empty() {
        if !state.is_trusted() {
            t.illegal_states += 1;
            return Err(format!(
                "items were acknowledged but the state is {}",
                state.name()
            ));
        }
        check_items(&client, vault, acked, t)?;
    }
    Ok(())
}

fn check_items(client: &Client, vault: Uuid, acked: &[Uuid], t: &mut Tally) -> Result<(), String> {
    for id in acked {
        let ok = client
            .get_item(vault, *id)
            .map_err(|e| format!("get_item: {e}"))?;
        if ok.as_deref() != Some(item_text(*id).as_bytes()) {
            t.lost_writes += 1;
            return Err(format!("acknowledged item {id} is missing or changed"));
        }
    }
    Ok(())
}

struct Env {
    url: String,
    approver: Client,
    vault: Uuid,
    root: PathBuf,
}

async fn setup(root: &Path) -> (TestServer, Env) {
    let server = TestServer::builder(sibling("vouch-e2e-server"))
        .data(root.join("server"))
        .args(&["--device-limit", "100000", "--approval-rate", "1000000"])
        .log_level("error")
        .start();
    let url = server.url().to_owned();
    let approver = open_client(&root.join("approver"), &url).expect("approver profile");
    enroll_by_email(&approver, &url, EMAIL).await;
    let vault = approver
        .create_vault("Crash vault")
        .await
        .expect("vault")
        .id;
    approver.flush_outbox().await.expect("flush");
    (
        server,
        Env {
            url,
            approver,
            vault,
            root: root.to_path_buf(),
        },
    )
}

/// One iteration: up to three random kills, then a run to the end, then the checks.
async fn iteration(
    env: &Env,
    i: u32,
    items: usize,
    rng: &mut Rng,
    t: &mut Tally,
) -> Result<(), String> {
    let profile = env.root.join(format!("device-{i}"));
    let method = if rng.below(2) == 0 {
        "email"
    } else {
        "approval"
    };
    let mut acked = Vec::new();
    let mut approving = Approving::default();
    // Lines a life prints: ~6 steps + REQUEST(s) + one ACK per item.
    let lines = 8 + items as u64;
    for _ in 0..1 + rng.below(3) {
        // Delays at three scales: right inside the step just announced, a few requests
        // later, or well into the next step.
        let scale = [1_000, 5_000, 20_000][rng.below(3) as usize];
        let delay_us = rng.below(scale);
        let kill = match rng.below(5) {
            0 => KillAt::AfterApproval {
                delay_us: rng.below(40_000),
            },
            // The run takes a few round trips through the event stream: kill anywhere
            // in it (before the child saw the run, after it counted, after it answered).
            4 => KillAt::DuringRun {
                delay_us: rng.below(60_000),
            },
            // Half of the kills land in the enrollment steps (the first lines), half
            // anywhere, so the short enrollment windows are hit as often as the writes.
            1 => KillAt::Line {
                n: rng.below(7),
                delay_us,
            },
            _ => KillAt::Line {
                n: rng.below(lines + 1),
                delay_us,
            },
        };
        match run_once(
            env,
            &profile,
            method,
            items,
            kill,
            &mut acked,
            &mut approving,
        )
        .await
        {
            Ok(Some(step)) => {
                t.kills += 1;
                *t.kills_by_step.entry(step).or_default() += 1;
                check_after_kill(&profile, &env.url, env.vault, &acked, t)?;
            }
            Ok(None) => break,
            Err(e) => {
                t.stuck += 1;
                if let Some(task) = approving.task.take() {
                    task.abort();
                }
                return Err(e);
            }
        }
    }
    let last = run_once(
        env,
        &profile,
        method,
        items,
        KillAt::Never,
        &mut acked,
        &mut approving,
    )
    .await;
    if let Err(e) = last {
        t.stuck += 1;
        if let Some(task) = approving.task.take() {
            task.abort();
        }
        return Err(e);
    }
    approving.settle().await?;
    // The device recovered by itself: trusted, key held, every write delivered.
    let client = open_client(&profile, &env.url).map_err(|e| format!("open: {e}"))?;
    if !client.state().is_trusted() {
        t.illegal_states += 1;
        return Err(format!("finished in state {}", client.state().name()));
    }
    check_items(&client, env.vault, &acked, t)?;
    let local = client.list_items(env.vault).map_err(|e| e.to_string())?;
    if local.len() != items || client.queued_operations().map_err(|e| e.to_string())? != 0 {
        t.extra_items += 1;
        return Err(format!(
            "{} local items (wanted {items}), writes still queued or duplicated",
            local.len()
        ));
    }
    // The server has each acknowledged write: the approver syncs and reads them.
    env.approver
        .sync()
        .await
        .map_err(|e| format!("approver sync: {e}"))?;
    check_items(&env.approver, env.vault, &acked, t)?;
    let device_id = client.state().device_id().ok_or("no device id")?;
    drop(client);
    env.approver
        .disable_device(device_id)
        .await
        .map_err(|e| format!("disable: {e}"))?;
    let _ = std::fs::remove_dir_all(&profile);
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}\nusage: vouch-crash-stress [--iterations N] [--items N] [--seed S]");
            return std::process::ExitCode::from(2);
        }
    };
    // The children it kills are binaries of this package: `cargo run --bin` builds only
    // this one, so say how to build them instead of panicking on a missing file.
    if let Some(e) = missing_children("vouch-crash-stress") {
        eprintln!("{e}");
        return std::process::ExitCode::from(2);
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut server, env) = setup(dir.path()).await;
    let mut rng = Rng(args.seed);
    let mut t = Tally::default();
    let mut failed = 0u32;
    let start = Instant::now();
    for i in 0..args.iterations {
        if let Err(e) = iteration(&env, i, args.items, &mut rng, &mut t).await {
            failed += 1;
            eprintln!("iteration {i} (seed {}): {e}", args.seed);
            // Do not let one stuck device block the next iterations' requests.
            if let Ok(pending) = env.approver.pending_requests().await {
                for p in pending {
                    let _ = env.approver.deny(p.request_id).await;
                }
            }
        }
    }
    server.stop();
    println!("kills by step: {}", kills_by_step(&t.kills_by_step));
    println!(
        "approvals: {} went through, {} runs unanswered (typed again), {} codes used up (new code)",
        APPROVED.load(Ordering::Relaxed),
        NO_ANSWER.load(Ordering::Relaxed),
        USED_UP.load(Ordering::Relaxed)
    );
    println!(
        "crash-stress: {} iterations, {} kills, {} inconsistencies, {} lost writes, {} stuck, seed {}, {:.1} s",
        args.iterations,
        t.kills,
        t.inconsistencies(),
        t.lost_writes,
        t.stuck,
        args.seed,
        start.elapsed().as_secs_f64()
    );
    if failed == 0 {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}
