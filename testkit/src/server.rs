//! A real server process on a loopback port.

use std::{
    fs::File,
    io::{BufRead, BufReader},
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    time::{Duration, Instant},
};

use crate::Api;

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
    database: Option<String>,
}

impl ServerBuilder {
    /// In the PostgreSQL pass, serves `other`'s database (a second replica beside it);
    /// on SQLite it changes nothing (one process per database file).
    pub fn database_of(mut self, other: &TestServer) -> Self {
        self.database = other.database.clone();
        self
    }

    /// Serves the PostgreSQL database at `url` (`--database`), whatever the test pass.
    pub fn database(mut self, url: impl Into<String>) -> Self {
        self.database = Some(url.into());
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
        let database = self
            .database
            .or_else(|| crate::postgres::database_for(&data));
        let mut server = TestServer {
            child: None,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            url: String::new(),
            bin: self.bin,
            data,
            dev: self.dev,
            args: self.args,
            log: self.log,
            log_level: self.log_level,
            database,
            _temp: temp,
        };
        server.spawn();
        server
    }
}

/// A server process (`vouch-server` or a binary running `vouch_server::cli::run`) on a
/// loopback port. Killed when dropped.
pub struct TestServer {
    child: Option<Child>,
    addr: SocketAddr,
    url: String,
    bin: PathBuf,
    data: PathBuf,
    dev: bool,
    args: Vec<String>,
    log: Option<PathBuf>,
    log_level: String,
    /// The PostgreSQL pass's database of this server (kept across restarts).
    database: Option<String>,
    _temp: Option<tempfile::TempDir>,
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
            database: None,
        }
    }

    /// Starts `bin --dev` with `args` and a temporary data directory.
    ///
    /// # Panics
    /// As [`ServerBuilder::start`].
    pub fn start(bin: impl Into<PathBuf>, args: &[&str]) -> Self {
        Self::builder(bin).args(args).start()
    }

    /// `http://127.0.0.1:PORT`, as the server printed it.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The address it listens on; the same after [`TestServer::restart`].
    pub fn addr(&self) -> SocketAddr {
        self.addr
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
                let db = rusqlite::Connection::open(self.data.join(vouch_server::db::DB_FILE))
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
                    self.data.join(vouch_server::db::DB_FILE),
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
                    self.data.join(vouch_server::db::DB_FILE),
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

    /// Its data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data
    }

    /// Its peak resident memory so far in KiB (`VmHWM` of `/proc/PID/status`; Linux only),
    /// `None` when it is not running or the kernel does not say.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let pid = self.child.as_ref()?.id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// The CPU time it has used so far, user plus system, in clock ticks (`utime` +
    /// `stime` of `/proc/PID/stat`; Linux only, usually 100 ticks a second), `None` when
    /// it is not running or the kernel does not say.
    pub fn cpu_ticks(&self) -> Option<u64> {
        proc_cpu_ticks(self.child.as_ref()?.id(), false)
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

    /// Stops it with SIGTERM and waits for it to exit (killed after 10 s). `None` if it
    /// was not running.
    pub fn stop(&mut self) -> Option<ExitStatus> {
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

    /// Stops it if it runs, then starts it again on the same address and data directory.
    ///
    /// # Panics
    /// As [`ServerBuilder::start`] (e.g. if another process took the port meanwhile).
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    fn spawn(&mut self) {
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
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--listen")
            .arg(self.addr.to_string())
            .arg("--data")
            .arg(&self.data);
        if self.dev {
            cmd.arg("--dev");
        }
        if let Some(url) = &self.database {
            cmd.arg("--database").arg(url);
        }
        let mut child = cmd
            .args(&self.args)
            .env("RUST_LOG", &self.log_level)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.bin.display()));
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
        url.clone_into(&mut self.url);
        self.addr = addr;
        self.child = Some(child);
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
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
