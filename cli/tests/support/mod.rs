//! What the CLI tests share: a real server in the test process, the `vouch` binary run as
//! a person would (arguments, stdin, or an interactive session), and the usual set-ups.

// Helpers unwrap like the tests they serve.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::{
    io::{Read, Write},
    path::{Path, PathBuf},
    process::{Child, Output, Stdio},
};

use serde_json::Value;
use vouch_testkit::{Api, DEV_PASSWORD};

pub struct Env {
    pub url: String,
    pub root: tempfile::TempDir,
}

impl Env {
    /// A profile directory under this test's root.
    pub fn profile(&self, name: &str) -> PathBuf {
        self.root.path().join(name)
    }
}

/// A `--dev` server on a free loopback port, its data under the test's root.
pub async fn server() -> (Env, vouch_server::RunningServer) {
    let root = tempfile::tempdir().unwrap();
    let server = server_at("127.0.0.1:0".parse().unwrap(), &root.path().join("server")).await;
    (
        Env {
            url: server.url(),
            root,
        },
        server,
    )
}

/// A `--dev` server at `addr` over the data in `dir` (again, after a restart).
pub async fn server_at(addr: std::net::SocketAddr, dir: &Path) -> vouch_server::RunningServer {
    let mut s = vouch_server::Settings::new(addr, dir.to_path_buf());
    s.dev = true;
    vouch_server::start(s).await.unwrap()
}

/// Runs `vouch` with `args` (and `stdin`) off the async runtime.
pub async fn vouch(profile: &Path, server: &str, args: &[&str], stdin: &str) -> Output {
    let mut cmd = assert_cmd::Command::cargo_bin("vouch").unwrap();
    cmd.arg("--profile")
        .arg(profile)
        .arg("--server")
        .arg(server)
        .args(args)
        .write_stdin(stdin.to_owned());
    cmd.env_remove("VOUCH_PASSWORD");
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

/// `vouch` started with piped stdin, stdout and stderr, for a conversation: what it asks
/// is read with [`Session::read_until`], answers written with [`Session::say`].
pub struct Session {
    pub child: Child,
    stderr: std::sync::mpsc::Receiver<String>,
    pub seen: String,
}

impl Session {
    pub fn start(profile: &Path, server: &str, args: &[&str]) -> Self {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("vouch"))
            .arg("--profile")
            .arg(profile)
            .arg("--server")
            .arg(server)
            .args(args)
            .env_remove("VOUCH_PASSWORD")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // stderr as it comes (prompts end without a newline), on a thread of its own.
        let mut err = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                match err.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                        if tx.send(text).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        Self {
            child,
            stderr: rx,
            seen: String::new(),
        }
    }

    /// Waits until stderr has shown `needle`, up to 60 s (a guard against a hang, not a
    /// timing: the tests wait for what the command says).
    pub fn read_until(&mut self, needle: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !self.seen.contains(needle) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(line) => self.seen.push_str(&line),
                Err(_) => panic!("never saw {needle:?}; stderr so far:\n{}", self.seen),
            }
        }
    }

    /// Writes one line to its stdin.
    pub fn say(&mut self, line: &str) {
        let stdin = self.child.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    /// Ends its input and waits for it to exit; (status, stdout, all stderr).
    pub fn finish(mut self) -> (Option<i32>, String, String) {
        drop(self.child.stdin.take());
        let out = self.child.wait_with_output().unwrap();
        while let Ok(line) = self.stderr.recv_timeout(std::time::Duration::from_secs(5)) {
            self.seen.push_str(&line);
        }
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            self.seen,
        )
    }
}

/// A profile signed in as alice and made trusted by email code — her first device, so a
/// key holder — named `name`.
pub async fn trusted_profile(env: &Env, profile: &Path, name: &str) {
    trust_by_email(&env.url, profile, "alice@acme.test", name).await;
}

/// A profile `name` under the test root, signed in as `email` and trusted by an email code
/// (the first web device of a user is a key holder; later ones are email-only).
pub async fn trusted_as(env: &Env, name: &str, email: &str) -> PathBuf {
    trusted_as_at(&env.url, &env.root.path().join(name), email).await
}

/// [`trusted_as`] in the directory `p` (its device named "EMAIL DIR-NAME").
pub async fn trusted_as_at(u: &str, p: &Path, email: &str) -> PathBuf {
    let name = p.file_name().unwrap().to_string_lossy();
    trust_by_email(u, p, email, &format!("{email} {name}")).await;
    p.to_path_buf()
}

/// Signs `profile` in as `email`, registers it as `device_name` and verifies it by the
/// mailed code.
async fn trust_by_email(u: &str, profile: &Path, email: &str, device_name: &str) {
    let args = ["--json", "sign-in", "--email", email, "--password-stdin"];
    ok_json(&vouch(profile, u, &args, &format!("{DEV_PASSWORD}\n")).await);
    ok_json(
        &vouch(
            profile,
            u,
            &["--json", "register", "--name", device_name],
            "",
        )
        .await,
    );
    ok_json(&vouch(profile, u, &["--json", "email-code", "send"], "").await);
    let code = Api::new(u).latest_code(email).await;
    let s = ok_json(&vouch(profile, u, &["--json", "email-code", "verify", &code], "").await);
    assert_eq!(s["state"], "trusted", "{s}");
}

/// `new` (signed in as alice) approved by the key holder `approver` through the CLI:
/// the code shown on `new` typed at `approver`'s prompt.
pub async fn approved_profile(env: &Env, approver: &Path, new: &Path, name: &str) {
    let u = env.url.as_str();
    sign_in_alice(new, u).await;
    ok_json(&vouch(new, u, &["--json", "register", "--name", name], "").await);
    let prompt = ok_json(&vouch(new, u, &["--json", "approval", "request", "--no-wait"], "").await);
    let rid = prompt["request_id"].as_str().unwrap().to_owned();
    let code = prompt["code"].as_str().unwrap().to_owned();
    let waiting = {
        let (new, u) = (new.to_path_buf(), u.to_owned());
        tokio::spawn(async move { vouch(&new, &u, &["--json", "approval", "wait"], "").await })
    };
    let o = vouch(approver, u, &["approve", &rid], &format!("{code}\n")).await;
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s = ok_json(&waiting.await.unwrap());
    assert_eq!(s["state"], "trusted", "{s}");
}

/// `vouch --json sign-in` as alice with the dev password on stdin; the JSON it printed.
pub async fn sign_in_alice(profile: &Path, server: &str) -> Value {
    ok_json(
        &vouch(
            profile,
            server,
            &SIGN_IN_ALICE,
            &format!("{DEV_PASSWORD}\n"),
        )
        .await,
    )
}

/// `vouch --json sign-in` as alice, the password read from stdin.
pub const SIGN_IN_ALICE: [&str; 5] = [
    "--json",
    "sign-in",
    "--email",
    "alice@acme.test",
    "--password-stdin",
];

#[track_caller]
pub fn ok_json(o: &Output) -> Value {
    assert!(
        o.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&o.stdout)))
}

#[track_caller]
pub fn one_line_error(o: &Output, code: i32, contains: &str) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "stderr: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err:?}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains(contains), "{err}");
}

/// Like [`one_line_error`], for commands that show a screen on stderr first (`approve`):
/// the error is the last line, one line.
#[track_caller]
pub fn last_line_error(o: &Output, code: i32, contains: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(code), "stderr: {err}");
    let last = err.trim_end().lines().last().unwrap_or_default();
    assert!(last.starts_with("error: "), "{err}");
    assert!(last.contains(contains), "{err}");
    assert_eq!(err.matches("error: ").count(), 1, "one error line: {err}");
}
