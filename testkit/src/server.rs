//! A real server process on a loopback port; in the PostgreSQL pass two replicas on one
//! database behind a round-robin balancer.

use std::{
    collections::HashMap,
    fs::File,
    io::{BufRead, BufReader},
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::{Arc, Mutex, atomic::AtomicUsize},
    time::{Duration, Instant},
};

use crate::{Api, balancer::Balancer};

/// Replicas a [`TestServer`] runs in the PostgreSQL pass (unless [`ServerBuilder::one_process`]).
pub const PG_REPLICAS: usize = 2;

/// Every running server's URLs (the balancer's and each replica's) to its replicas' URLs:
/// what [`Api::advance_clock`] moves, as each replica keeps its clock in memory.
static REPLICAS_OF: Mutex<Option<HashMap<String, Vec<String>>>> = Mutex::new(None);

/// The replica URLs behind `base` (a [`TestServer`]'s URL or one of its replicas'); just
/// `base` when it is no running test server's.
pub(crate) fn replica_urls_of(base: &str) -> Vec<String> {
    let map = REPLICAS_OF.lock().unwrap_or_else(|e| e.into_inner());
    map.as_ref()
        .and_then(|m| m.get(base).cloned())
        .unwrap_or_else(|| vec![base.to_owned()])
}

/// How long a SIGTERMed server may take to shut down before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// How a [`TestServer`] is started; from [`TestServer::builder`].
#[must_use]
pub struct ServerBuilder {
    bin: PathBuf,
    data: Option<PathBuf>,
    dev: bool,
    args: Vec<String>,
    log: Option<PathBuf>,
    log_level: String,
    one_process: bool,
    database: Option<String>,
    sqlite: bool,
    listen: Option<SocketAddr>,
    env: Vec<(String, String)>,
}

impl ServerBuilder {
    /// One process even in the PostgreSQL pass (no second replica, no balancer): for a
    /// test of what is per process by design — its connection caps, hashing gate, memory,
    /// metrics. On SQLite there is one process anyway.
    pub fn one_process(mut self) -> Self {
        self.one_process = true;
        self
    }

    /// Serves the SQLite file in its data directory, in the PostgreSQL pass too (the
    /// source of a move to PostgreSQL); one process.
    pub fn sqlite(mut self) -> Self {
        self.sqlite = true;
        self
    }

    /// Listens on `addr` (default `127.0.0.1:0`; the balancer's address when there are
    /// replicas): a server taking over another's address, whose clients' profiles name it.
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = Some(addr);
        self
    }

    /// Serves the PostgreSQL database at `url` (`--database URL`), whatever the pass, as
    /// one process: the stress binaries' and the failover tests' replicas of one database,
    /// each started on its own.
    pub fn database(mut self, url: impl Into<String>) -> Self {
        self.database = Some(url.into());
        self
    }

    /// Sets the environment variable `key` to `value` for the server's processes (kept
    /// across restarts).
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Serves this data directory (default: a temporary one, removed with the server).
    pub fn data(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data = Some(dir.into());
        self
    }

    /// With `--dev` (the default): seeded users, the dev outbox and the dev clock.
    pub fn dev(mut self, dev: bool) -> Self {
        self.dev = dev;
        self
    }

    /// Extra command-line arguments, after `--listen`, `--data` and `--dev`.
    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|a| (*a).to_owned()));
        self
    }

    /// The server's log (`RUST_LOG`, default `warn`).
    pub fn log_level(mut self, level: &str) -> Self {
        level.clone_into(&mut self.log_level);
        self
    }

    /// Appends the server's stderr (its log) to `file` instead of this process's stderr.
    pub fn log_to(mut self, file: impl Into<PathBuf>) -> Self {
        self.log = Some(file.into());
        self
    }

    /// Starts the server on `127.0.0.1:0` and returns once it listens.
    ///
    /// # Panics
    /// If it cannot be started or does not print `listening on URL` first.
    pub fn start(self) -> TestServer {
        let (data, temp) = match self.data {
            Some(d) => (d, None),
            None => {
                let t = tempfile::tempdir().expect("temporary data directory");
                (t.path().to_path_buf(), Some(t))
            }
        };
        let one_process = self.one_process || self.database.is_some();
        let database = if self.sqlite {
            None
        } else {
            self.database
                .or_else(|| crate::postgres::database_for(&data))
        };
        let count = if database.is_some() && !one_process {
            PG_REPLICAS
        } else {
            1
        };
        let listen = self
            .listen
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
        let mut replicas = vec![Replica::new(data, temp)];
        if count == 1 {
            replicas[0].addr = listen;
        }
        while replicas.len() < count {
            // Each replica has a data directory of its own: it holds the replica's lock.
            let t = tempfile::tempdir().expect("temporary data directory");
            replicas.push(Replica::new(t.path().to_path_buf(), Some(t)));
        }
        let mut server = TestServer {
            counts: Arc::new((0..count).map(|_| AtomicUsize::new(0)).collect()),
            replicas,
            balancer: None,
            front: listen,
            url: String::new(),
            bin: self.bin,
            dev: self.dev,
            args: self.args,
            log: self.log,
            log_level: self.log_level,
            database,
            env: self.env,
        };
        server.spawn();
        let mut keys = vec![server.url.clone()];
        keys.extend(server.replica_urls());
        let mut map = REPLICAS_OF.lock().unwrap_or_else(|e| e.into_inner());
        let map = map.get_or_insert_with(HashMap::new);
        for key in keys {
            map.insert(key, server.replica_urls());
        }
        server
    }
}

/// `bin --data DIR` (and, in the PostgreSQL pass, `--database` with the directory's
/// database): an operator's command (`admin …`, `backup`, `migrate`) on the data that a
/// [`TestServer`] on `dir` serves; add the command's arguments.
pub fn server_command(bin: impl AsRef<Path>, dir: &Path) -> Command {
    let mut cmd = Command::new(bin.as_ref());
    cmd.arg("--data").arg(dir).args(crate::postgres::flags(dir));
    cmd
}

/// The output of a command that must have succeeded.
///
/// # Panics
/// If it could not run or exited with failure (its program and stderr in the message;
/// not its arguments or environment, which may hold a password).
#[track_caller]
pub fn succeeded(cmd: &mut Command) -> std::process::Output {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// One `vouch-server` process of a [`TestServer`].
struct Replica {
    child: Option<Child>,
    addr: SocketAddr,
    url: String,
    data: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

impl Replica {
    fn new(data: PathBuf, temp: Option<tempfile::TempDir>) -> Self {
        Self {
            child: None,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            url: String::new(),
            data,
            _temp: temp,
        }
    }

    /// SIGTERM (killed after [`STOP_TIMEOUT`]); `None` if it was not running.
    fn terminate(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                _ => {
                    let _ = child.kill();
                    return child.wait().ok();
                }
            }
        }
    }
}

/// A server process (`vouch-server` or a binary running `vouch_server::cli::run`) on a
/// loopback port. Killed when dropped.
///
/// In the PostgreSQL pass it is [`PG_REPLICAS`] processes serving one database, each with
/// a data directory of its own, behind a round-robin TCP balancer on its own loopback
/// port: [`TestServer::url`] is the balancer's, so every connection of every client lands
/// on either replica. What the methods do applies to every replica (flags, log, stop,
/// restart, the dev clock); [`ServerBuilder::one_process`] opts out.
pub struct TestServer {
    replicas: Vec<Replica>,
    /// In front of the replicas when there are several.
    balancer: Option<Balancer>,
    /// Connections the balancer handed to each replica.
    counts: Arc<Vec<AtomicUsize>>,
    /// Where clients connect: the balancer, or the one replica.
    front: SocketAddr,
    url: String,
    bin: PathBuf,
    dev: bool,
    args: Vec<String>,
    log: Option<PathBuf>,
    log_level: String,
    /// The PostgreSQL pass's database of this server (kept across restarts).
    database: Option<String>,
    /// Set in every replica's environment.
    env: Vec<(String, String)>,
}

impl TestServer {
    /// A builder for the server binary at `bin` — from a test of the server's own
    /// package, `env!("CARGO_BIN_EXE_vouch-server")`.
    pub fn builder(bin: impl Into<PathBuf>) -> ServerBuilder {
        ServerBuilder {
            bin: bin.into(),
            data: None,
            dev: true,
            args: Vec::new(),
            log: None,
            log_level: "warn".into(),
            one_process: false,
            database: None,
            sqlite: false,
            listen: None,
            env: Vec::new(),
        }
    }

    /// Starts `bin --dev` with `args` and a temporary data directory.
    ///
    /// # Panics
    /// As [`ServerBuilder::start`].
    pub fn start(bin: impl Into<PathBuf>, args: &[&str]) -> Self {
        Self::builder(bin).args(args).start()
    }

    /// Another server (one process) on this one's database in the PostgreSQL pass, with
    /// the same binary and arguments and a data directory of its own; `None` on SQLite
    /// (one process per database file: callers then use this server for both).
    ///
    /// # Panics
    /// As [`ServerBuilder::start`].
    pub fn replica(&self) -> Option<TestServer> {
        let url = self.database.clone()?;
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        Some(
            TestServer::builder(&self.bin)
                .dev(self.dev)
                .database(url)
                .args(&args)
                .start(),
        )
    }

    /// `http://127.0.0.1:PORT`, as the server printed it (the balancer's when there are
    /// replicas).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The address clients connect to; the same after [`TestServer::restart`].
    pub fn addr(&self) -> SocketAddr {
        self.front
    }

    /// Each replica's own URL (one: [`TestServer::url`] itself, on SQLite or with
    /// [`ServerBuilder::one_process`]), for a test that must reach one replica.
    pub fn replica_urls(&self) -> Vec<String> {
        self.replicas.iter().map(|r| r.url.clone()).collect()
    }

    /// Connections the balancer handed to each replica so far; `None` without a balancer.
    pub fn replica_connections(&self) -> Option<Vec<usize>> {
        self.balancer.as_ref().map(Balancer::counts)
    }

    /// Its PostgreSQL database in the PostgreSQL pass (`None`: the SQLite file).
    pub fn database(&self) -> Option<&str> {
        self.database.as_deref()
    }

    /// Runs `sql` (one statement, SQLite's and PostgreSQL's alike) on its database, beside
    /// the running server: the SQLite file in its data directory, or its PostgreSQL
    /// database in the PostgreSQL pass.
    ///
    /// # Panics
    /// When the statement fails.
    pub fn execute_sql(&self, sql: &str) {
        match &self.database {
            Some(url) => {
                crate::postgres::psql(url, sql);
            }
            None => {
                let db = rusqlite::Connection::open(
                    self.replicas[0].data.join(vouch_server::db::DB_FILE),
                )
                .expect("the server's SQLite file");
                db.busy_timeout(Duration::from_secs(10))
                    .expect("busy timeout");
                db.execute(sql, []).expect("the statement");
            }
        }
    }

    /// The blob the query `sql` (one row, one column; SQLite's and PostgreSQL's alike)
    /// reads from its database, as the server stored it.
    ///
    /// # Panics
    /// When the query fails or finds no row.
    pub fn query_blob(&self, sql: &str) -> Vec<u8> {
        match &self.database {
            Some(url) => crate::postgres::query_blob(url, sql),
            None => {
                let db = rusqlite::Connection::open_with_flags(
                    self.replicas[0].data.join(vouch_server::db::DB_FILE),
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
                )
                .expect("the server's SQLite file");
                db.query_row(sql, [], |r| r.get(0)).expect("the query")
            }
        }
    }

    /// The rows the query `sql` reads from its database, each column as text — integers
    /// in decimal, blobs as `\x` + hex (PostgreSQL's `bytea` output), NULL as empty —
    /// the same on SQLite and on PostgreSQL.
    ///
    /// # Panics
    /// When the query fails.
    pub fn query_rows(&self, sql: &str) -> Vec<Vec<String>> {
        match &self.database {
            Some(url) => crate::postgres::psql(url, sql)
                .lines()
                .filter(|l| !l.is_empty())
                .map(|l| l.split('|').map(str::to_owned).collect())
                .collect(),
            None => {
                use rusqlite::types::ValueRef;
                let db = rusqlite::Connection::open_with_flags(
                    self.replicas[0].data.join(vouch_server::db::DB_FILE),
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
                )
                .expect("the server's SQLite file");
                let mut q = db.prepare(sql).expect("the query");
                let n = q.column_count();
                q.query_map([], |r| {
                    (0..n)
                        .map(|i| {
                            Ok(match r.get_ref(i)? {
                                ValueRef::Null => String::new(),
                                ValueRef::Integer(v) => v.to_string(),
                                ValueRef::Real(v) => v.to_string(),
                                ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                                ValueRef::Blob(b) => {
                                    let hex: String =
                                        b.iter().map(|x| format!("{x:02x}")).collect();
                                    format!("\\x{hex}")
                                }
                            })
                        })
                        .collect()
                })
                .expect("the query")
                .collect::<Result<_, _>>()
                .expect("the rows")
            }
        }
    }

    /// [`server_command`] on its data (its binary, its data directory and database).
    pub fn command(&self) -> Command {
        server_command(&self.bin, self.data_dir())
    }

    /// Creates the user `email` with `password` in workspace `workspace` by the operator's
    /// admin command on its data (beside the running server, as in a deployment).
    ///
    /// # Panics
    /// If the command fails.
    pub fn create_user(&self, workspace: &str, email: &str, password: &str) {
        succeeded(
            self.command()
                .args([
                    "admin",
                    "create-user",
                    "--workspace",
                    workspace,
                    "--email",
                    email,
                ])
                .env("VOUCH_NEW_PASSWORD", password),
        );
    }

    /// Its data directory (the first replica's; its PostgreSQL database is every
    /// replica's).
    pub fn data_dir(&self) -> &Path {
        &self.replicas[0].data
    }

    /// Its peak resident memory so far in KiB (`VmHWM` of `/proc/PID/status`; Linux only;
    /// the largest replica's), `None` when it is not running or the kernel does not say.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        self.replicas
            .iter()
            .filter_map(|r| {
                let pid = r.child.as_ref()?.id();
                let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
                status
                    .lines()
                    .find_map(|l| l.strip_prefix("VmHWM:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            })
            .max()
    }

    /// The CPU time its replicas have used so far, user plus system, in clock ticks
    /// (`utime` + `stime` of `/proc/PID/stat`; Linux only, usually 100 ticks a second),
    /// `None` when it is not running or the kernel does not say.
    pub fn cpu_ticks(&self) -> Option<u64> {
        self.replicas
            .iter()
            .map(|r| proc_cpu_ticks(r.child.as_ref()?.id(), false))
            .sum()
    }

    /// A JSON client for it.
    pub fn api(&self) -> Api {
        Api::new(&self.url)
    }

    /// What it logged so far (with [`ServerBuilder::log_to`]; empty otherwise).
    pub fn log_text(&self) -> String {
        self.log
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default()
    }

    /// Stops it with SIGTERM and waits for it to exit (killed after 10 s): every replica,
    /// then the balancer (its port refuses connections until [`TestServer::restart`]).
    /// The first failed exit, else the first; `None` if it was not running.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        for r in &self.replicas {
            if let Some(child) = &r.child {
                let _ = Command::new("kill")
                    .arg("-TERM")
                    .arg(child.id().to_string())
                    .status();
            }
        }
        let statuses: Vec<ExitStatus> = self
            .replicas
            .iter_mut()
            .filter_map(Replica::terminate)
            .collect();
        if let Some(b) = &mut self.balancer {
            b.stop();
        }
        statuses
            .iter()
            .find(|s| !s.success())
            .or(statuses.first())
            .copied()
    }

    /// Kills every replica with SIGKILL at once (no shutdown: open transactions and
    /// connections are cut where they stand) and reaps them. The first one's exit;
    /// `None` if it was not running.
    pub fn kill(&mut self) -> Option<ExitStatus> {
        let mut first = None;
        for r in &mut self.replicas {
            if let Some(mut child) = r.child.take() {
                let _ = child.kill();
                let status = child.wait().ok();
                first = first.or(status);
            }
        }
        first
    }

    /// Its (first replica's) process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.replicas[0].child.as_ref().map(Child::id)
    }

    /// Stops it if it runs, then starts it again on the same address and data directory.
    ///
    /// # Panics
    /// As [`ServerBuilder::start`] (e.g. if another process took the port meanwhile).
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    fn spawn(&mut self) {
        // The replicas start at once (as a deployment's do: migrations and the dev seed
        // are serialised in the database), then each is waited for.
        let started: Vec<_> = (0..self.replicas.len()).map(|i| self.launch(i)).collect();
        for (i, child) in started.into_iter().enumerate() {
            self.listening(i, child);
        }
        if self.replicas.len() > 1 {
            let addrs = self.replicas.iter().map(|r| r.addr).collect();
            let b = Balancer::start(self.front, addrs, self.counts.clone());
            self.front = b.addr();
            self.balancer = Some(b);
        } else {
            self.front = self.replicas[0].addr;
        }
        self.url = format!("http://{}", self.front);
    }

    /// Starts replica `i`'s process.
    fn launch(&self, i: usize) -> Child {
        let stderr = match &self.log {
            Some(path) => Stdio::from(
                File::options()
                    .create(true)
                    .append(true)
                    .open(path)
                    .expect("server log file"),
            ),
            None => Stdio::inherit(),
        };
        let replica = &self.replicas[i];
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--listen")
            .arg(replica.addr.to_string())
            .arg("--data")
            .arg(&replica.data);
        if self.dev {
            cmd.arg("--dev");
        }
        if let Some(url) = &self.database {
            cmd.arg("--database").arg(url);
        }
        cmd.args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("RUST_LOG", &self.log_level)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.bin.display()))
    }

    /// Waits for replica `i`'s `child` to print `listening on URL`.
    fn listening(&mut self, i: usize, mut child: Child) {
        let mut out = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        let _ = out.read_line(&mut line);
        let Some(url) = line.trim().strip_prefix("listening on ") else {
            let _ = child.kill();
            let status = child.wait();
            panic!("the server did not start: first line {line:?}, exit {status:?}");
        };
        let addr = url
            .strip_prefix("http://")
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("not a loopback URL: {url}"));
        let replica = &mut self.replicas[i];
        url.clone_into(&mut replica.url);
        replica.addr = addr;
        replica.child = Some(child);
        // Whatever else it prints is read and dropped, so it never writes to a closed pipe.
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    }
}

/// The CPU time of process `pid` in clock ticks (`/proc/PID/stat`: `utime` + `stime`, and
/// with `children`, also `cutime` + `cstime` of its waited-for children); `None` when
/// there is no such process or the kernel does not say.
pub fn proc_cpu_ticks(pid: u32, children: bool) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command's closing parenthesis; utime is the 14th field overall.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let n = if children { 4 } else { 2 };
    fields
        .get(11..11 + n)?
        .iter()
        .map(|f| f.parse::<u64>().ok())
        .sum()
}

impl Drop for TestServer {
    fn drop(&mut self) {
        for r in &mut self.replicas {
            if let Some(mut child) = r.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        if let Some(b) = &mut self.balancer {
            b.stop();
        }
        let mut map = REPLICAS_OF.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(map) = map.as_mut() {
            map.remove(&self.url);
            for r in &self.replicas {
                map.remove(&r.url);
            }
        }
    }
}
