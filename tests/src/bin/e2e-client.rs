//! A client process the crash tests kill with SIGKILL and restart.
//!
//! `vouch-e2e-client PROFILE URL request`      open an approval request, print
//!                                            `REQUEST <id> <code>` (the 6 digits the
//!                                            person would read off the screen), wait for
//!                                            the decision (answering the approver's run)
//! `vouch-e2e-client PROFILE URL resume`       wait for the persisted request's decision
//! `vouch-e2e-client PROFILE URL write VAULT`  write items forever, printing `ACK <item>`
//!                                            after each write returned
//! `vouch-e2e-client PROFILE URL life EMAIL METHOD ITEMS VAULT`
//!                                            a whole device life, resumed from whatever
//!                                            state the profile is in: sign in, register,
//!                                            verify (METHOD `email` or `approval`), get
//!                                            the vault key, write ITEMS items, sync;
//!                                            prints `STEP`, `REQUEST`, `ACK`, `DONE`;
//!                                            asks for a new code (as the person would)
//!                                            when its code is used up or too old
//! `vouch-e2e-client PROFILE URL rotate VAULT DEVICE TOTAL`
//!                                            a key holder revokes DEVICE (disables it:
//!                                            the revocation on the chain, the rotation
//!                                            of every vault, the re-encryption), writes
//!                                            items until VAULT holds TOTAL, and syncs
//!                                            until nothing is left to re-encrypt or
//!                                            send; resumed from whatever the profile
//!                                            and the server hold; prints `STEP`, `ACK`,
//!                                            `DONE`, and the client's debug log lines as
//!                                            `LOG …` (the rotation, each re-encrypted
//!                                            batch), so the stress can kill right after
//!                                            one
//! Every line is flushed before the next step, so what the test read was acknowledged.

// A test binary: a failed unwrap is a test failure the crash stress reports.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{io::Write, path::Path, process::ExitCode};

use vouch_core::{
    ApprovalPrompt, Client, EnrollmentState, Error, TlsPolicy, Verification,
    proto::{DeviceStatus, ErrorCode},
};
use vouch_e2e::{child_device_info, item_text, open_client};
use vouch_testkit::{Api, DEV_PASSWORD};

/// The client library's log as `LOG` lines on stdout (each flushed like every line).
struct StdoutLog;

static STDOUT_LOG: StdoutLog = StdoutLog;

impl log::Log for StdoutLog {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.target().starts_with("vouch_core") && m.level() <= log::Level::Debug
    }

    fn log(&self, r: &log::Record<'_>) {
        if self.enabled(r.metadata()) {
            out(format!("LOG {}", r.args()));
        }
    }

    fn flush(&self) {}
}

fn out(line: String) {
    let mut o = std::io::stdout().lock();
    let _ = writeln!(o, "{line}");
    let _ = o.flush();
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (profile, url, mode) = (&args[1], &args[2], args[3].as_str());
    let info = child_device_info(Path::new(profile));
    let client =
        open_client(Path::new(profile), url, info, None, TlsPolicy::default()).expect("open");
    match mode {
        "request" => {
            let p = client.start_approval().await.expect("start approval");
            out(request_line(&p));
            let s = client.wait_for_approval().await.expect("wait");
            out(format!("STATE {}", s.name()));
        }
        "resume" => {
            let s = client.wait_for_approval().await.expect("wait");
            out(format!("STATE {}", s.name()));
        }
        "write" => {
            let vault: uuid::Uuid = args[4].parse().expect("vault id");
            for i in 0u64.. {
                let item = uuid::Uuid::new_v4();
                client
                    .put_item(vault, Some(item), format!("item {i}").as_bytes())
                    .await
                    .expect("put");
                out(format!("ACK {item} {i}"));
            }
        }
        "life" => {
            let (email, by_email) = (&args[4], args[5] == "email");
            let items: usize = args[6].parse().expect("item count");
            let vault: uuid::Uuid = args[7].parse().expect("vault id");
            if let Err(e) = life(&client, url, email, by_email, items, vault).await {
                out(format!("ERROR {e}"));
                return ExitCode::from(1);
            }
            out("DONE".into());
        }
        "rotate" => {
            if log::set_logger(&STDOUT_LOG).is_ok() {
                log::set_max_level(log::LevelFilter::Debug);
            }
            let vault: uuid::Uuid = args[4].parse().expect("vault id");
            let device: uuid::Uuid = args[5].parse().expect("device id");
            let total: usize = args[6].parse().expect("item count");
            if let Err(e) = rotate(&client, vault, device, total).await {
                out(format!("ERROR {e}"));
                return ExitCode::from(1);
            }
            out("DONE".into());
        }
        _ => return ExitCode::from(2),
    }
    ExitCode::SUCCESS
}

/// Revokes `device` unless the server already lists it disabled (then the sync's upkeep
/// finishes the revocation and the rotation), writes items until `vault` holds `total`,
/// then syncs until nothing is left to re-encrypt or to send.
async fn rotate(
    c: &Client,
    vault: uuid::Uuid,
    device: uuid::Uuid,
    total: usize,
) -> vouch_core::Result<()> {
    let live = c
        .devices()
        .await?
        .iter()
        .any(|d| d.id == device && d.status != DeviceStatus::Disabled);
    if live {
        out("STEP disable".into());
        c.disable_device(device).await?;
    }
    let mut written = c.list_items(vault)?.len();
    if written < total {
        out("STEP write".into());
    }
    while written < total {
        let id = uuid::Uuid::new_v4();
        c.put_item(vault, Some(id), item_text(id).as_bytes())
            .await?;
        out(format!("ACK {id}"));
        written += 1;
    }
    loop {
        out("STEP sync".into());
        c.sync().await?;
        if c.reencryption_pending()? == 0 && c.queued_operations()? == 0 {
            return Ok(());
        }
    }
}

/// Drives the device from whatever state it is in to "trusted, holds the vault key,
/// `items` items written and delivered".
async fn life(
    c: &Client,
    url: &str,
    email: &str,
    by_email: bool,
    items: usize,
    vault: uuid::Uuid,
) -> vouch_core::Result<()> {
    loop {
        match c.state() {
            EnrollmentState::SignedOut => {
                out("STEP sign_in".into());
                c.sign_in(email, DEV_PASSWORD).await?;
            }
            EnrollmentState::Untrusted { .. }
            | EnrollmentState::Denied { .. }
            | EnrollmentState::Expired { .. } => {
                out("STEP register".into());
                c.register_device(&c.default_device_name()?).await?;
            }
            EnrollmentState::Verifying {
                verification,
                device_name,
                ..
            } => {
                if let Some(p) = c.approval_prompt()? {
                    wait_with(c, p).await?;
                } else if by_email {
                    if !matches!(verification, Verification::EmailCode { .. }) {
                        out("STEP email_code".into());
                        match c.request_email_code().await {
                            // A code was sent before a crash: it is in the mail already.
                            Err(Error::Server {
                                code: ErrorCode::TooManyRequests,
                                ..
                            }) => {}
                            r => {
                                r?;
                            }
                        }
                    }
                    let code = read_code(url, email, &device_name).await?;
                    out("STEP submit_code".into());
                    c.submit_email_code(&code).await?;
                } else {
                    out("STEP start_approval".into());
                    c.start_approval().await?;
                }
            }
            EnrollmentState::Trusted { .. } => {
                // A request still open (killed while waiting, or after the keys were
                // stored but before the acknowledgement): finish it first, as the app
                // shows its screen again on start.
                if let Some(p) = c.approval_prompt()? {
                    wait_with(c, p).await?;
                    continue;
                }
                let has_key = |c: &Client| -> vouch_core::Result<bool> {
                    Ok(c.vaults()?.iter().any(|v| v.id == vault && v.has_key))
                };
                if !has_key(c)? || !c.state().is_key_holder() {
                    out("STEP sync".into());
                    c.sync().await?;
                    if has_key(c)? && c.state().is_key_holder() {
                        continue;
                    }
                    // Email-only: ask a key holder for the keys (and the tier).
                    out("STEP request_keys".into());
                    c.request_vault_keys().await?;
                    continue;
                }
                let mut written = c.list_items(vault)?.len();
                while written < items {
                    let id = uuid::Uuid::new_v4();
                    c.put_item(vault, Some(id), item_text(id).as_bytes())
                        .await?;
                    out(format!("ACK {id}"));
                    written += 1;
                }
                out("STEP flush".into());
                while c.flush_outbox().await?.queued > 0 {}
                return Ok(());
            }
            EnrollmentState::Wiped => return Err(Error::Wiped),
        }
    }
}

/// `REQUEST <id> <code>`: the code without its space, as one word.
fn request_line(p: &ApprovalPrompt) -> String {
    format!("REQUEST {} {}", p.request_id, p.code.replace(' ', ""))
}

/// Shows the prompt (the `REQUEST` line the approver reads) and waits, answering the
/// approver's runs. A code that can no longer be used (three runs answered, or too old
/// on this device's clock) is replaced by a new one, as the person would ask for.
async fn wait_with(c: &Client, p: ApprovalPrompt) -> vouch_core::Result<()> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    if p.runs_left == 0 || p.expires_at.unix_timestamp() <= now {
        out("STEP new_code".into());
        c.new_code().await?;
        return Ok(());
    }
    out(request_line(&p));
    out("STEP wait".into());
    match c.wait_for_approval().await {
        // The next round of the life sees the used-up code and asks for a new one.
        Ok(_) | Err(Error::CodeUsedUp) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The newest 6-digit code mailed to `email` for the device `device_name`, from the dev
/// outbox. Like a person, it waits a little for the mail: the server stores the code
/// (and throttles re-sends) before the mail is written, so a restarted client can be
/// told "already sent" a moment before the mail is there.
async fn read_code(url: &str, email: &str, device_name: &str) -> vouch_core::Result<String> {
    Api::new(url)
        .mailed_code(email, Some(&format!("\"{device_name}\"")))
        .await
        .ok_or(Error::InvalidState("no code in the outbox"))
}
