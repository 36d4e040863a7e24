#![allow(dead_code)]
//! Harness for the end-to-end tests: a real `vouch-server` process, clients with their own
//! profile directories (SQLite files) and software key stores, the dev outbox, and a
//! relay that can tamper with what the server says.

use std::{
    io::{BufRead, BufReader},
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use vouch_core::{
    Client, ClientConfig, ClientListener, DeviceInfo, EnrollmentState, PendingRequest,
    keystore::SoftwareSecretStore, proto::DeviceKind,
};

/// Password of the seeded dev users.
pub const PASSWORD: &str = "dev-password";

/// A `vouch-server --dev` process on a fixed loopback port (so it can be restarted).
pub struct ServerProc {
    child: Option<Child>,
    pub url: String,
    pub port: u16,
    pub data: PathBuf,
    args: Vec<String>,
    log: Option<PathBuf>,
}

/// A free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl ServerProc {
    /// Starts a server with its own data directory under `root`.
    pub fn start(root: &Path, extra: &[&str]) -> Self {
        let mut s = Self {
            child: None,
            url: String::new(),
            port: free_port(),
            data: root.join("server"),
            args: extra.iter().map(|s| s.to_string()).collect(),
            log: None,
        };
        s.restart();
        s
    }

    /// Starts a server whose stderr (its log at `level`) goes to a file.
    pub fn start_logged(root: &Path, level: &str) -> Self {
        let mut s = Self {
            child: None,
            url: String::new(),
            port: free_port(),
            data: root.join("server"),
            args: Vec::new(),
            log: Some(root.join("server.log")),
        };
        s.spawn(level);
        s
    }

    /// The server's captured log.
    pub fn log_text(&self) -> String {
        self.log
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default()
    }

    /// (Re)starts the process on the same port and data directory.
    pub fn restart(&mut self) {
        self.spawn("warn");
    }

    fn spawn(&mut self, level: &str) {
        let stderr = match &self.log {
            Some(p) => Stdio::from(std::fs::File::create(p).unwrap()),
            None => Stdio::inherit(),
        };
        let mut child = Command::new(env!("CARGO_BIN_EXE_vouch-e2e-server"))
            .args([
                "--dev",
                "--listen",
                &format!("127.0.0.1:{}", self.port),
                "--data",
            ])
            .arg(&self.data)
            .args(&self.args)
            .env("RUST_LOG", level)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        self.url = line
            .trim()
            .strip_prefix("listening on ")
            .expect("listening line")
            .to_owned();
        self.child = Some(child);
    }

    /// Stops it with SIGTERM and waits.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
            let _ = c.wait();
        }
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Records what a client reports to its listener.
#[derive(Default)]
pub struct Recorder {
    pub states: Mutex<Vec<String>>,
    pub pending: Mutex<Vec<Vec<PendingRequest>>>,
}

impl ClientListener for Recorder {
    fn state_changed(&self, state: EnrollmentState) {
        self.states.lock().unwrap().push(state.name().to_owned());
    }
    fn pending_approvals_changed(&self, pending: Vec<PendingRequest>) {
        self.pending.lock().unwrap().push(pending);
    }
    fn vaults_changed(&self) {}
}

/// One device: a profile directory with its SQLite file and software key store.
pub struct Device {
    pub client: Client,
    pub dir: PathBuf,
    pub recorder: Arc<Recorder>,
}

impl Device {
    pub fn open(root: &Path, name: &str, url: &str, kind: DeviceKind) -> Self {
        let dir = root.join(name);
        let keys = Arc::new(SoftwareSecretStore::open(dir.join("keys")).unwrap());
        let recorder = Arc::new(Recorder::default());
        let client = Client::open(ClientConfig {
            profile_dir: dir.clone(),
            server_url: url.to_owned(),
            device: DeviceInfo {
                kind,
                model: name.to_owned(),
                os: "TestOS 1".into(),
                app: "e2e".into(),
            },
            secret_store: keys,
            listener: Some(recorder.clone()),
            tls: Default::default(),
        })
        .unwrap();
        Self {
            client,
            dir,
            recorder,
        }
    }

    /// The profile's database files (db, -wal, -shm) as bytes.
    pub fn database_bytes(&self) -> Vec<u8> {
        let mut all = Vec::new();
        for suffix in ["", "-wal", "-shm"] {
            if let Ok(b) =
                std::fs::read(format!("{}{suffix}", self.client.database_path().display()))
            {
                all.extend(b);
            }
        }
        all
    }
}

/// The newest 6-digit code mailed to `email`, read from the dev outbox.
pub async fn read_code(url: &str, email: &str) -> String {
    let mails: serde_json::Value = reqwest::get(format!("{url}/v1/dev/outbox?to={email}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let body = mails.as_array().unwrap().last().expect("a mail")["body"]
        .as_str()
        .unwrap()
        .to_owned();
    body.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .expect("code")
        .to_owned()
}

/// Signs in and registers with the default name.
pub async fn sign_in_and_register(d: &Device, email: &str) {
    d.client.sign_in(email, PASSWORD).await.unwrap();
    let name = d.client.default_device_name().unwrap();
    d.client.register_device(&name).await.unwrap();
}

/// First device: sign in, register, verify by email code.
pub async fn enroll_by_email(d: &Device, url: &str, email: &str) {
    sign_in_and_register(d, email).await;
    d.client.request_email_code().await.unwrap();
    let code = read_code(url, email).await;
    let s = d.client.submit_email_code(&code).await.unwrap();
    assert!(s.is_trusted());
}

/// Signs `new` in, registers it, and has `approver` approve it with the number it shows.
pub async fn enroll_by_approval(new: &Device, approver: &Device, email: &str) {
    sign_in_and_register(new, email).await;
    let p = new.client.start_approval().await.unwrap();
    approver.client.pending_requests().await.unwrap();
    approver
        .client
        .approve(p.request_id, &p.number)
        .await
        .unwrap();
    assert!(new.client.wait_for_approval().await.unwrap().is_trusted());
}

/// True if `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// A relay between a client and the server that can replace the requester's public key
/// in pending-request listings (a malicious or compromised server).
pub struct Relay {
    pub url: String,
    pub swap: Arc<AtomicBool>,
    pub approvals_forwarded: Arc<Mutex<Vec<String>>>,
    /// Path endings whose next non-GET request is delivered to the server but whose
    /// answer is lost (502 without a body): what a client sees when it is killed or the
    /// network drops right after the server committed.
    pub lose_answer: Arc<Mutex<Vec<String>>>,
}

impl Relay {
    /// Loses the answer to the next non-GET request whose path ends with `suffix`.
    pub fn lose_next_answer(&self, suffix: &str) {
        self.lose_answer.lock().unwrap().push(suffix.to_owned());
    }
}

/// The key the relay substitutes (an attacker's X25519 public key: RFC 7748's Bob).
pub const ATTACKER_KEY_B64: &str = "3p7bfXt9wbTTW2HC7OQ1Nz-DQ8hbeGdNrfx-FG-IK08";

pub async fn start_relay(upstream: String) -> Relay {
    use axum::{body::Bytes, extract::Request, response::Response};
    let swap = Arc::new(AtomicBool::new(false));
    let forwarded = Arc::new(Mutex::new(Vec::new()));
    let lose = Arc::new(Mutex::new(Vec::<String>::new()));
    let (swap2, fwd2, lose2) = (swap.clone(), forwarded.clone(), lose.clone());
    let http = reqwest::Client::new();
    let app = axum::Router::new().fallback(move |req: Request| {
        let (swap, fwd, lose, http, upstream) = (
            swap2.clone(),
            fwd2.clone(),
            lose2.clone(),
            http.clone(),
            upstream.clone(),
        );
        async move {
            let (parts, body) = req.into_parts();
            let body: Bytes = axum::body::to_bytes(body, 1 << 20)
                .await
                .unwrap_or_default();
            let path = parts
                .uri
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default();
            if path.contains("/approve") {
                fwd.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&body).into_owned());
            }
            let mut r = http
                .request(parts.method.clone(), format!("{upstream}{path}"))
                .body(body.to_vec());
            if let Some(a) = parts.headers.get("authorization") {
                r = r.header("authorization", a);
            }
            if let Some(c) = parts.headers.get("content-type") {
                r = r.header("content-type", c);
            }
            let lost = parts.method != axum::http::Method::GET && {
                let mut l = lose.lock().unwrap();
                let bare = parts.uri.path();
                match l.iter().position(|suffix| bare.ends_with(suffix.as_str())) {
                    Some(i) => {
                        l.remove(i);
                        true
                    }
                    None => false,
                }
            };
            let resp = r.send().await.unwrap();
            if lost {
                let _ = resp.bytes().await;
                return Response::builder()
                    .status(502)
                    .body(axum::body::Body::empty())
                    .unwrap();
            }
            let status = resp.status();
            let mut bytes = resp.bytes().await.unwrap().to_vec();
            if swap.load(Ordering::SeqCst) && path.starts_with("/v1/approval-requests?") {
                let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                for p in v.as_array_mut().unwrap() {
                    p["device"]["public_key"] = serde_json::Value::String(ATTACKER_KEY_B64.into());
                }
                bytes = serde_json::to_vec(&v).unwrap();
            }
            Response::builder()
                .status(status.as_u16())
                .header("content-type", "application/json")
                .body(axum::body::Body::from(bytes))
                .unwrap()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Relay {
        url,
        swap,
        approvals_forwarded: forwarded,
        lose_answer: lose,
    }
}

/// Polls `f` until it returns true (10 s at most).
pub async fn eventually<F: FnMut() -> bool>(mut f: F) -> bool {
    for _ in 0..200 {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}
