//! Load bench of the reference server on loopback (a bench binary, not a test).
//!
//! Runs N concurrent clients through two cycles and prints throughput and p50/p99
//! latency:
//! - enrollment by email: register → send code → read it from the dev outbox → verify;
//! - approval (Trust v2): open a request → the approver, told over SSE, starts a SPAKE2
//!   run → the new device, told over SSE, answers with its MAC → the approver checks it,
//!   seals a vault key (HPKE auth+psk) into the payload and approves → the new device
//!   checks the approver's MAC, opens the payload and acknowledges → trusted. Both sides
//!   run the real crypto of `vouch-core`, in this process;
//!
//! and the delay from opening a request to a connected approver receiving
//! `approval_requested` (the push), and from the approver's approve to the device being
//! trusted.
//!
//! Configurations, side by side in one run (`--configs`, each `--repeats` times,
//! interleaved so a busy machine weighs on all alike):
//! - `sqlite`: one real server process on a SQLite file;
//! - `pg1`: one real server process on a fresh PostgreSQL database;
//! - `pg2`: two real server processes (replicas) on one fresh PostgreSQL database, the
//!   clients spread over both: each approver streams its events from one replica and its
//!   new device talks to the other, so every push crosses replicas (LISTEN/NOTIFY);
//! - `sqlite-inproc` (only when asked for): the server inside this process, as the bench
//!   ran before issue 21 (its figures compare with the README's older ones).
//!
//! The PostgreSQL ones run with `--database postgres://USER@HOST:PORT/DB` (or
//! `VOUCH_DATABASE`): a role that may create databases; each run gets a database of its
//! own there (`vouch_load_PID_N`, dropped afterwards). The server processes are this very
//! binary: started with `--listen …` it is the `vouch-server` command
//! (`vouch_server::cli::run`). `scripts/load-bench.sh` starts a throwaway PostgreSQL
//! cluster (fsync on) and runs this against it.
//!
//! The profile of each approval phase: CPU per request of the server processes and of
//! PostgreSQL (`/proc`), the clients' CPU per cycle, write transactions per second and
//! how long they waited for and held the write lock (the servers' metrics), PostgreSQL's
//! commits per second (`pg_stat_database`) and what its busy backends were doing
//! (`pg_stat_activity` sampled every 25 ms).
//!
//! `cargo run --release -p vouch-e2e --bin vouch-server-load -- --clients 8 --cycles 50`

// A bench binary: a failed unwrap is a failed run, not a crash in an app.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    path::Path,
    process::ExitCode,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use clap::Parser;
use serde_json::json;
use vouch_core::crypto::{
    ApprovalCode, ApprovalPayload, ApproverRun, Descriptor, DeviceIdentity, Envelope,
    EnvelopeContext, EnvelopePurpose, PakePassword, PayloadEnvelope, RequesterRun, RunContext,
    VaultKey,
};
use vouch_server::{Settings, seed};
use vouch_testkit::{Api, TestServer, b64, id, metric, proc_cpu_ticks};

#[derive(Parser, Debug)]
struct Args {
    /// Concurrent clients (each its own user).
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Cycles per client and phase.
    #[arg(long, default_value_t = 50)]
    cycles: usize,
    /// A PostgreSQL server for the `pg1` and `pg2` configurations (a role that may
    /// create databases): `postgres://USER[:PASSWORD]@HOST:PORT/DB`.
    #[arg(long, env = "VOUCH_DATABASE", hide_env_values = true)]
    database: Option<String>,
    /// Configurations, in order: sqlite, pg1, pg2, sqlite-inproc (default: sqlite, and
    /// pg1 and pg2 with --database).
    #[arg(long, value_delimiter = ',')]
    configs: Vec<String>,
    /// How many times each configuration runs (interleaved).
    #[arg(long, default_value_t = 1)]
    repeats: usize,
}

/// Throughput and latency of one kind of operation.
#[derive(Clone, Copy, Default)]
struct Stats {
    n: usize,
    per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
}

impl Stats {
    fn of(mut lat: Vec<Duration>, wall: Duration) -> Self {
        lat.sort();
        let pct = |p: f64| {
            if lat.is_empty() {
                return 0.0;
            }
            lat[((lat.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1e3
        };
        Self {
            n: lat.len(),
            per_s: lat.len() as f64 / wall.as_secs_f64(),
            p50_ms: pct(0.50),
            p99_ms: pct(0.99),
        }
    }

    fn print(&self, name: &str) {
        println!(
            "  {name:<34} {:>6} ops  {:>8.1} ops/s  p50 {:>7.2} ms  p99 {:>7.2} ms",
            self.n, self.per_s, self.p50_ms, self.p99_ms
        );
    }
}

/// What one configuration measured.
struct Run {
    config: String,
    enroll: Stats,
    approve: Stats,
    push: Stats,
    ack: Stats,
    profile: Profile,
    load: (String, String),
}

/// Where the approval phase spent its time.
#[derive(Default)]
struct Profile {
    requests: f64,
    /// Server processes' CPU per answered request (not for `sqlite-inproc`).
    server_cpu_ms: Option<f64>,
    /// PostgreSQL's CPU (postmaster and backends) per answered request.
    pg_cpu_ms: Option<f64>,
    /// This process's CPU (the clients' crypto and HTTP) per approval cycle.
    client_cpu_ms: f64,
    /// Write transactions per second (all servers).
    writes_per_s: f64,
    /// Mean wait for the write lock (connection + lock), ms.
    wait_ms: f64,
    /// Mean time a write held the write lock, ms.
    hold_ms: f64,
    /// Share of the wall time the write lock was held.
    lock_busy: f64,
    /// PostgreSQL commits per second (`pg_stat_database.xact_commit`; reads commit too).
    pg_commits_per_s: Option<f64>,
    /// Busy backends by what they were doing, mean per sample.
    activity: Vec<(String, f64)>,
}

/// The servers of one configuration.
struct Servers {
    urls: Vec<String>,
    procs: Vec<TestServer>,
    inproc: Option<vouch_server::RunningServer>,
    /// The PostgreSQL database (admin connection URL, database name).
    pg: Option<(String, String)>,
    _dir: tempfile::TempDir,
}

fn main() -> ExitCode {
    // Started by the bench as a server process: be the `vouch-server` command.
    if std::env::args().nth(1).as_deref() == Some("--listen") {
        return vouch_server::cli::run();
    }
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(bench(args));
    ExitCode::SUCCESS
}

async fn bench(args: Args) {
    let configs = if args.configs.is_empty() {
        let mut c = vec!["sqlite".to_owned()];
        if args.database.is_some() {
            c.extend(["pg1".to_owned(), "pg2".to_owned()]);
        }
        c
    } else {
        args.configs.clone()
    };
    for c in &configs {
        assert!(
            ["sqlite", "pg1", "pg2", "sqlite-inproc"].contains(&c.as_str()),
            "unknown configuration {c}"
        );
        assert!(
            !c.starts_with("pg") || args.database.is_some(),
            "{c} needs --database postgres://… (or VOUCH_DATABASE)"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    println!(
        "raw SQLite commits (WAL, synchronous=FULL, one row each): {:.0} commits/s",
        raw_sqlite_commit_rate(dir.path(), 1000)
    );
    if let Some(url) = &args.database {
        let (client, settings) = pg_connect(url).await;
        println!(
            "raw PostgreSQL commits (one connection, one row each; fsync={}, \
             synchronous_commit={}): {:.0} commits/s",
            settings.0,
            settings.1,
            raw_pg_commit_rate(&client, 1000).await
        );
    }
    println!(
        "{} clients × {} cycles; configurations {configs:?} × {}",
        args.clients, args.cycles, args.repeats
    );
    let mut runs = Vec::new();
    let mut n = 0;
    for repeat in 0..args.repeats {
        for config in &configs {
            n += 1;
            let load_before = loadavg();
            println!(
                "\n== {config} (run {}/{}), load average {load_before}",
                repeat + 1,
                args.repeats
            );
            let servers = start(config, &args, n).await;
            let run = measure(config, &servers, &args).await;
            stop(servers).await;
            let run = Run {
                load: (load_before, loadavg()),
                ..run
            };
            println!("  load average after: {}", run.load.1);
            runs.push(run);
        }
    }
    summary(&runs);
}

/// Starts `config`'s servers on a fresh database with the bench's users in it.
async fn start(config: &str, args: &Args, n: usize) -> Servers {
    let dir = tempfile::tempdir().unwrap();
    let emails = users(args.clients);
    let flags = [
        "--device-limit",
        "4294967295",
        "--approval-rate",
        "4294967295",
        "--code-resend-interval",
        "0",
    ];
    let me = std::env::current_exe().unwrap();
    match config {
        "sqlite-inproc" => {
            let mut settings = Settings::new(
                "127.0.0.1:0".parse::<SocketAddr>().unwrap(),
                dir.path().join("server"),
            );
            settings.dev = true;
            settings.device_limit = u32::MAX;
            settings.approval_rate_limit = u32::MAX;
            settings.code_resend_interval = Duration::ZERO;
            let server = vouch_server::start(settings).await.expect("start server");
            let db = vouch_server::Db::open(&dir.path().join("server")).unwrap();
            seed_users(db, emails).await;
            Servers {
                urls: vec![server.url()],
                procs: Vec::new(),
                inproc: Some(server),
                pg: None,
                _dir: dir,
            }
        }
        "sqlite" => {
            let data = dir.path().join("server");
            seed_users(vouch_server::Db::open(&data).unwrap(), emails).await;
            let server = TestServer::builder(&me).data(&data).args(&flags).start();
            Servers {
                urls: vec![server.url().to_owned()],
                procs: vec![server],
                inproc: None,
                pg: None,
                _dir: dir,
            }
        }
        _ => {
            let admin = args.database.clone().unwrap();
            let name = format!("vouch_load_{}_{n}", std::process::id());
            let (client, _) = pg_connect(&admin).await;
            for sql in [
                format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                format!("CREATE DATABASE {name}"),
            ] {
                client.batch_execute(&sql).await.unwrap();
            }
            let url = database_url(&admin, &name);
            // On a runtime of its own: its push listener's connection ends with it.
            let seeding = url.clone();
            std::thread::spawn(move || {
                let rt = tokio::runtime::Runtime::new().unwrap();
                rt.block_on(async {
                    let db = vouch_server::Db::connect(&seeding, Default::default())
                        .await
                        .unwrap();
                    seed_users(db, emails).await;
                });
            })
            .join()
            .unwrap();
            let replicas = if config == "pg2" { 2 } else { 1 };
            let procs: Vec<TestServer> = (0..replicas)
                .map(|i| {
                    TestServer::builder(&me)
                        .data(dir.path().join(format!("replica{i}")))
                        .database(url.clone())
                        .args(&flags)
                        .start()
                })
                .collect();
            Servers {
                urls: procs.iter().map(|s| s.url().to_owned()).collect(),
                procs,
                inproc: None,
                pg: Some((admin, name)),
                _dir: dir,
            }
        }
    }
}

async fn stop(servers: Servers) {
    if let Some(s) = servers.inproc {
        s.shutdown().await;
    }
    drop(servers.procs);
    if let Some((admin, name)) = servers.pg {
        let (client, _) = pg_connect(&admin).await;
        client
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await
            .unwrap();
    }
}

/// The bench's users: `load{i}@` (enrollment) and `approve{i}@` (approval, each its own
/// user: an approver must be its user's first key holder).
fn users(clients: usize) -> Vec<String> {
    (0..clients)
        .flat_map(|i| {
            [
                format!("load{i}@acme.test"),
                format!("approve{i}@acme.test"),
            ]
        })
        .collect()
}

async fn seed_users(db: vouch_server::Db, emails: Vec<String>) {
    tokio::task::spawn_blocking(move || {
        for e in &emails {
            seed::create_user(
                &db,
                "Acme",
                e,
                seed::DEV_PASSWORD,
                vouch_proto::Role::Member,
            )
            .unwrap();
        }
    })
    .await
    .unwrap();
}

/// Counters of one moment, to subtract.
struct Snapshot {
    at: Instant,
    metrics: Vec<String>,
    server_ticks: Option<u64>,
    pg_ticks: Option<u64>,
    client_ticks: u64,
    pg_commits: Option<i64>,
}

async fn snapshot(
    servers: &Servers,
    pg: Option<&(tokio_postgres::Client, String, u32)>,
) -> Snapshot {
    let mut metrics = Vec::new();
    for url in &servers.urls {
        metrics.push(Api::new(url).metrics().await);
    }
    let server_ticks = if servers.procs.is_empty() {
        None
    } else {
        servers.procs.iter().map(TestServer::cpu_ticks).sum()
    };
    let (pg_ticks, pg_commits) = match pg {
        Some((client, name, postmaster)) => {
            let row = client
                .query_one(
                    "SELECT xact_commit FROM pg_stat_database WHERE datname = $1",
                    &[name],
                )
                .await
                .unwrap();
            (postgres_ticks(*postmaster), Some(row.get::<_, i64>(0)))
        }
        None => (None, None),
    };
    Snapshot {
        at: Instant::now(),
        metrics,
        server_ticks,
        pg_ticks,
        client_ticks: proc_cpu_ticks(std::process::id(), false).unwrap_or(0),
        pg_commits,
    }
}

async fn measure(config: &str, servers: &Servers, args: &Args) -> Run {
    let urls = &servers.urls;
    println!("  servers {urls:?}");
    // Phase 1: enrollment by email code, client i on server i mod n.
    let t = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..args.clients {
        let (api, cycles) = (Api::new(&urls[i % urls.len()]), args.cycles);
        let email = format!("load{i}@acme.test");
        tasks.push(tokio::spawn(async move {
            let (account, _) = api.login(&email).await;
            let mut lat = Vec::new();
            for i in 0..cycles {
                let t0 = Instant::now();
                let d = id(&api
                    .register(&account, &format!("email {i}"), "web")
                    .await
                    .ok());
                api.verify_by_email(&account, &email, &d).await;
                lat.push(t0.elapsed());
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.unwrap());
    }
    let enroll = Stats::of(lat, t.elapsed());
    enroll.print("register → code → verify");

    // Phase 2: Trust v2 approval cycles, both devices on their event streams; the
    // approver on server i mod n, its new device on server i+1 mod n.
    let pg = match &servers.pg {
        Some((admin, name)) => {
            let (client, _) = pg_connect(admin).await;
            let backend: i32 = client
                .query_one("SELECT pg_backend_pid()", &[])
                .await
                .unwrap()
                .get(0);
            let postmaster = parent_pid(u32::try_from(backend).unwrap()).unwrap_or(0);
            Some((client, name.clone(), postmaster))
        }
        None => None,
    };
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = servers.pg.as_ref().map(|(admin, name)| {
        tokio::spawn(sample_activity(
            admin.clone(),
            name.clone(),
            sampling.clone(),
        ))
    });
    let before = snapshot(servers, pg.as_ref()).await;
    let mut tasks = Vec::new();
    for i in 0..args.clients {
        let approver = Api::new(&urls[i % urls.len()]);
        let device = Api::new(&urls[(i + 1) % urls.len()]);
        let (email, cycles) = (format!("approve{i}@acme.test"), args.cycles);
        tasks.push(tokio::spawn(async move {
            approval_cycles(&approver, &device, &email, cycles).await
        }));
    }
    let (mut cycles, mut pushes, mut trusted) = (Vec::new(), Vec::new(), Vec::new());
    for t in tasks {
        let (c, p, a) = t.await.unwrap();
        cycles.extend(c);
        pushes.extend(p);
        trusted.extend(a);
    }
    let after = snapshot(servers, pg.as_ref()).await;
    sampling.store(false, Ordering::SeqCst);
    let activity = match sampler {
        Some(s) => s.await.unwrap(),
        None => Vec::new(),
    };
    let wall = after.at - before.at;
    let approve = Stats::of(cycles, wall);
    let push = Stats::of(pushes, wall);
    let ack = Stats::of(trusted, wall);
    approve.print("open request → trusted (PAKE run)");
    push.print("open → approver gets SSE event");
    ack.print("approve → device trusted (ack)");
    let profile = profile(&before, &after, approve.n, activity);
    print_profile(&profile);
    Run {
        config: config.to_owned(),
        enroll,
        approve,
        push,
        ack,
        profile,
        load: (String::new(), String::new()),
    }
}

fn profile(
    before: &Snapshot,
    after: &Snapshot,
    cycles: usize,
    activity: Vec<(String, f64)>,
) -> Profile {
    let wall = (after.at - before.at).as_secs_f64();
    let delta = |name: &str| -> f64 {
        after.metrics.iter().map(|m| metric(m, name)).sum::<f64>()
            - before.metrics.iter().map(|m| metric(m, name)).sum::<f64>()
    };
    let tick_ms = 1e3 / clock_ticks_per_second();
    let requests = delta("vouch_http_requests_total");
    let writes = delta("vouch_db_transaction_seconds_count");
    let held = delta("vouch_db_transaction_seconds_sum");
    let per_request =
        |a: Option<u64>, b: Option<u64>| Some((b? - a?) as f64 * tick_ms / requests.max(1.0));
    Profile {
        requests,
        server_cpu_ms: per_request(before.server_ticks, after.server_ticks),
        pg_cpu_ms: per_request(before.pg_ticks, after.pg_ticks),
        client_cpu_ms: (after.client_ticks - before.client_ticks) as f64 * tick_ms
            / cycles.max(1) as f64,
        writes_per_s: writes / wall,
        wait_ms: delta("vouch_db_write_wait_seconds_sum") * 1e3
            / delta("vouch_db_write_wait_seconds_count").max(1.0),
        hold_ms: held * 1e3 / writes.max(1.0),
        lock_busy: held / wall,
        pg_commits_per_s: match (before.pg_commits, after.pg_commits) {
            (Some(a), Some(b)) => Some((b - a) as f64 / wall),
            _ => None,
        },
        activity,
    }
}

fn print_profile(p: &Profile) {
    let ms = |v: Option<f64>| v.map_or("n/a".to_owned(), |v| format!("{v:.2} ms"));
    println!(
        "  profile: {:.0} requests; CPU per request: server {}, PostgreSQL {}; \
         clients' CPU per cycle {:.2} ms",
        p.requests,
        ms(p.server_cpu_ms),
        ms(p.pg_cpu_ms),
        p.client_cpu_ms
    );
    println!(
        "  writes {:.0}/s, write lock: wait {:.2} ms mean, held {:.2} ms mean, busy {:.0}% \
         of the time; PostgreSQL commits {}",
        p.writes_per_s,
        p.wait_ms,
        p.hold_ms,
        p.lock_busy * 100.0,
        p.pg_commits_per_s
            .map_or("n/a".to_owned(), |c| format!("≈{c:.0}/s (reads too)"))
    );
    if !p.activity.is_empty() {
        let top: Vec<String> = p
            .activity
            .iter()
            .take(8)
            .map(|(k, v)| format!("{k} {v:.2}"))
            .collect();
        println!(
            "  PostgreSQL backends busy, mean per sample: {}",
            top.join(", ")
        );
    }
}

fn summary(runs: &[Run]) {
    println!("\n== side by side (approval phase; cycles/s, ms)");
    println!(
        "{:<14} {:>9} {:>7} {:>7} {:>9} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>8} {:>7} {:>8} {:>7} {:>6}  load before → after",
        "config",
        "enroll/s",
        "en p50",
        "en p99",
        "approve/s",
        "ap p50",
        "ap p99",
        "push50",
        "push99",
        "ack50",
        "ack99",
        "srv cpu",
        "pg cpu",
        "writes/s",
        "wait",
        "busy",
    );
    let ms = |v: Option<f64>| v.map_or("n/a".to_owned(), |v| format!("{v:.2}"));
    for r in runs {
        println!(
            "{:<14} {:>9.1} {:>7.1} {:>7.1} {:>9.1} {:>7.1} {:>7.1} {:>7.1} {:>7.1} {:>7.1} {:>7.1} {:>8} {:>7} {:>8.0} {:>7.2} {:>5.0}%  {} → {}",
            r.config,
            r.enroll.per_s,
            r.enroll.p50_ms,
            r.enroll.p99_ms,
            r.approve.per_s,
            r.approve.p50_ms,
            r.approve.p99_ms,
            r.push.p50_ms,
            r.push.p99_ms,
            r.ack.p50_ms,
            r.ack.p99_ms,
            ms(r.profile.server_cpu_ms),
            ms(r.profile.pg_cpu_ms),
            r.profile.writes_per_s,
            r.profile.wait_ms,
            r.profile.lock_busy * 100.0,
            r.load.0,
            r.load.1,
        );
    }
    let mean = |config: &str| {
        let v: Vec<f64> = runs
            .iter()
            .filter(|r| r.config == config)
            .map(|r| r.approve.per_s)
            .collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    };
    if let (Some(one), Some(two)) = (mean("pg1"), mean("pg2")) {
        println!(
            "two replicas ÷ one: {:.2}× approval cycles/s (mean of the runs)",
            two / one
        );
    }
}

/// The first three fields of `/proc/loadavg`.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn clock_ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

fn parent_pid(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// PostgreSQL's CPU: the postmaster with its reaped children, and its live children.
fn postgres_ticks(postmaster: u32) -> Option<u64> {
    if postmaster == 0 {
        return None;
    }
    let mut total = proc_cpu_ticks(postmaster, true)?;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        if parent_pid(pid) == Some(postmaster) {
            total += proc_cpu_ticks(pid, false).unwrap_or(0);
        }
    }
    Some(total)
}

/// What the database's busy backends are doing, every 25 ms until `running` is cleared:
/// mean backends per sample by wait event (`Lock:advisory`: waiting for the write lock),
/// `running` (on CPU) or `idle in transaction` (a transaction open while its server
/// works); `lock holder …` is the one backend holding the write lock.
async fn sample_activity(
    admin: String,
    name: String,
    running: Arc<AtomicBool>,
) -> Vec<(String, f64)> {
    let (client, _) = pg_connect(&admin).await;
    // The write lock's key as pg_locks shows it: the high and low 32 bits (`oid`).
    let lock = vouch_server::store::postgres::WRITE_LOCK;
    let lock_hi = u32::try_from(lock >> 32).unwrap();
    let lock_lo = u32::try_from(lock & 0xffff_ffff).unwrap();
    let mut counts: BTreeMap<String, f64> = BTreeMap::new();
    let mut samples = 0u32;
    while running.load(Ordering::SeqCst) {
        let rows = client
            .query(
                "SELECT CASE WHEN l.pid IS NULL THEN '' ELSE 'lock holder ' END || \
                   CASE WHEN a.state = 'active' THEN \
                   coalesce(a.wait_event_type || ':' || a.wait_event, 'running') \
                   ELSE a.state END, count(*) \
                 FROM pg_stat_activity a LEFT JOIN pg_locks l ON l.pid = a.pid \
                   AND l.locktype = 'advisory' AND l.granted \
                   AND l.classid = $2 AND l.objid = $3 \
                 WHERE a.datname = $1 AND a.state <> 'idle' AND a.pid <> pg_backend_pid() \
                   AND a.backend_type = 'client backend' GROUP BY 1",
                &[&name, &lock_hi, &lock_lo],
            )
            .await
            .unwrap();
        for r in rows {
            *counts.entry(r.get(0)).or_default() += r.get::<_, i64>(1) as f64;
        }
        samples += 1;
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let mut out: Vec<(String, f64)> = counts
        .into_iter()
        .map(|(k, v)| (k, v / f64::from(samples.max(1))))
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1));
    out
}

/// The URL of database `name` on the server of `admin`.
fn database_url(admin: &str, name: &str) -> String {
    let (server, _) = admin
        .rsplit_once('/')
        .expect("--database must end with /DATABASE");
    format!("{server}/{name}")
}

/// A connection to `url`, and the server's `fsync` and `synchronous_commit`.
async fn pg_connect(url: &str) -> (tokio_postgres::Client, (String, String)) {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect to --database (the URL is not printed)");
    tokio::spawn(connection);
    let fsync: String = client.query_one("SHOW fsync", &[]).await.unwrap().get(0);
    let sync: String = client
        .query_one("SHOW synchronous_commit", &[])
        .await
        .unwrap()
        .get(0);
    (client, (fsync, sync))
}

async fn raw_pg_commit_rate(client: &tokio_postgres::Client, n: usize) -> f64 {
    client
        .batch_execute(
            "DROP TABLE IF EXISTS vouch_load_raw; \
             CREATE TABLE vouch_load_raw (id BIGINT PRIMARY KEY, v BYTEA)",
        )
        .await
        .unwrap();
    let insert = client
        .prepare("INSERT INTO vouch_load_raw (id, v) VALUES ($1, $2)")
        .await
        .unwrap();
    let blob = vec![0u8; 64];
    let t = Instant::now();
    for i in 0..n {
        client
            .execute(&insert, &[&(i as i64), &blob])
            .await
            .unwrap();
    }
    let rate = n as f64 / t.elapsed().as_secs_f64();
    client
        .batch_execute("DROP TABLE vouch_load_raw")
        .await
        .unwrap();
    rate
}

fn raw_sqlite_commit_rate(dir: &Path, n: usize) -> f64 {
    let conn = rusqlite::Connection::open(dir.join("raw.db")).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "FULL").unwrap();
    conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)")
        .unwrap();
    let t = Instant::now();
    for i in 0..n {
        conn.execute(
            "INSERT INTO t (id, v) VALUES (?1, zeroblob(64))",
            [i as i64],
        )
        .unwrap();
    }
    n as f64 / t.elapsed().as_secs_f64()
}

/// One client's approval cycles: (open → trusted, open → approver told, approve → trusted).
/// The approver talks to `appr`, its new devices to `dev` (another replica, if any).
async fn approval_cycles(
    appr: &Api,
    dev: &Api,
    email: &str,
    cycles: usize,
) -> (Vec<Duration>, Vec<Duration>, Vec<Duration>) {
    let (account, user) = appr.login(email).await;
    let user_id: uuid::Uuid = user["id"].as_str().unwrap().parse().unwrap();
    let approver_id = DeviceIdentity::generate().unwrap();
    let approver_dev = appr
        .post(
            "/v1/devices",
            Some(&account),
            json!({"name": "approver", "kind": "mobile", "platform": "load / bench",
                "key_bundle": b64(&approver_id.public_key().bundle())}),
        )
        .await
        .ok();
    let approver = appr
        .verify_by_email(&account, email, &id(&approver_dev))
        .await["device_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let approver_device: uuid::Uuid = id(&approver_dev).parse().unwrap();
    let vault_key = VaultKey::generate().unwrap();
    let vault = uuid::Uuid::new_v4();
    let mut approver_events = appr.events(&approver, "", None).await;
    let (mut cycle_lat, mut push_lat, mut ack_lat) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..cycles {
        let me = DeviceIdentity::generate().unwrap();
        let device = dev
            .post(
                "/v1/devices",
                Some(&account),
                json!({"name": format!("approval {i}"), "kind": "web", "platform": "load / bench",
                    "key_bundle": b64(&me.public_key().bundle())}),
            )
            .await
            .ok();
        let did = id(&device);
        let mut my_events = dev
            .events(&account, &format!("?device_id={did}"), None)
            .await;
        let code = ApprovalCode::generate().unwrap();
        let t0 = Instant::now();
        let opened = dev.open_approval(&account, &did).await.ok();
        let rid = id(&opened);
        // The approver is told and starts a run with the code the person typed.
        let listed = loop {
            let (_, ev) = approver_events.expect("approval_requested").await;
            if ev["request"]["id"] == rid.as_str() {
                break ev["request"].clone();
            }
        };
        push_lat.push(t0.elapsed());
        let device = &listed["device"];
        let ctx = RunContext {
            purpose: "enroll".into(),
            user_id,
            request_id: rid.parse().unwrap(),
            requester_id: did.parse().unwrap(),
            approver_id: approver_device,
            requester_bundle: vouch_proto::Bytes::from_b64(device["key_bundle"].as_str().unwrap())
                .unwrap()
                .0,
            approver_bundle: approver_id.public_key().bundle(),
            descriptor: Descriptor {
                name: device["name"].as_str().unwrap().into(),
                kind: device["kind"].as_str().unwrap().into(),
                platform: device["platform"].as_str().unwrap().into(),
                origin: device["origin"].as_str().unwrap().into(),
            },
        };
        let a = ApproverRun::start(PakePassword::Code(&code), user_id, ctx.request_id).unwrap();
        let path = format!("/v1/approval-requests/{rid}");
        let run = appr
            .post(
                &format!("{path}/runs"),
                Some(&approver),
                json!({"secret": "code", "msg_a": b64(a.message())}),
            )
            .await
            .ok();
        let run_id = run["run_id"].as_str().unwrap().to_owned();
        // The new device is told, answers with its MAC.
        my_events.expect("approval_run").await;
        let st = dev.get(&path, Some(&account)).await.ok();
        let msg_a = vouch_proto::Bytes::from_b64(st["run"]["msg_a"].as_str().unwrap()).unwrap();
        let (b, answer) = RequesterRun::answer(PakePassword::Code(&code), &ctx, &msg_a.0).unwrap();
        dev.post(
            &format!("{path}/runs/{run_id}/response"),
            Some(&account),
            json!({"msg_b": b64(&answer.msg_b), "mac_b": b64(&answer.mac_b)}),
        )
        .await
        .ok();
        // The approver checks the MAC, seals the vault key and approves.
        while approver_events.expect("approval_run").await.1["run_id"] != run_id.as_str() {}
        let seen = appr
            .get(&format!("{path}/runs/{run_id}"), Some(&approver))
            .await
            .ok();
        let msg_b = vouch_proto::Bytes::from_b64(seen["msg_b"].as_str().unwrap()).unwrap();
        let mac_b = vouch_proto::Bytes::from_b64(seen["mac_b"].as_str().unwrap()).unwrap();
        let confirmed = a.finish(&ctx, &msg_b.0, &mac_b.0).unwrap();
        let ectx = EnvelopeContext {
            purpose: EnvelopePurpose::Approval,
            user_id,
            request_id: ctx.request_id,
            vault_id: vault,
            epoch: 0,
        };
        let payload = ApprovalPayload {
            envelopes: vec![PayloadEnvelope {
                vault_id: vault,
                epoch: 0,
                envelope: Envelope::seal(
                    &vault_key,
                    &approver_id,
                    me.public_key(),
                    confirmed.psk(),
                    &ectx,
                )
                .unwrap(),
            }],
            ..Default::default()
        };
        let t_approve = Instant::now();
        appr.post(
            &format!("{path}/approve"),
            Some(&approver),
            json!({"run_id": run_id, "mac_a": b64(&confirmed.mac_a().unwrap()),
                "payload": b64(&payload.seal(&confirmed).unwrap())}),
        )
        .await
        .ok();
        // The new device is told, checks the approver's MAC, opens and acknowledges.
        my_events.expect("approval_decided").await;
        let st = dev.get(&path, Some(&account)).await.ok();
        let mac_a = vouch_proto::Bytes::from_b64(st["run"]["mac_a"].as_str().unwrap()).unwrap();
        b.confirm(&mac_a.0).unwrap();
        let sealed = vouch_proto::Bytes::from_b64(st["run"]["payload"].as_str().unwrap()).unwrap();
        let opened = ApprovalPayload::open(&b, &sealed.0).unwrap();
        let pk = vouch_core::crypto::PublicKey::from_bundle(&ctx.approver_bundle).unwrap();
        opened.envelopes[0]
            .envelope
            .open(&me, &pk, b.psk(), &ectx)
            .unwrap();
        let ack = dev
            .post(
                &format!("{path}/ack"),
                Some(&account),
                json!({"run_id": run_id, "opened": true}),
            )
            .await
            .ok();
        assert!(ack["device_token"].is_string());
        ack_lat.push(t_approve.elapsed());
        cycle_lat.push(t0.elapsed());
    }
    (cycle_lat, push_lat, ack_lat)
}
