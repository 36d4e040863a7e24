//! One function per command, over `vouch_core::Client`.

use std::{
    io::{IsTerminal, Read},
    time::Duration,
};

use serde_json::json;
use vouch_core::{
    Client, EnrollmentState, Verification, VerificationStarted,
    proto::{DeviceKind, ErrorCode},
};

use crate::{
    ApprovalAction, Cli, CliError, Command, DevicesAction, EmailCodeAction, Kind, VaultAction,
    VaultCommand,
    output::{self, Out},
    profile,
};

fn kind(k: Kind) -> DeviceKind {
    match k {
        Kind::Web => DeviceKind::Web,
        Kind::Mobile => DeviceKind::Mobile,
        Kind::Extension => DeviceKind::Extension,
    }
}

/// Asks for one line on stderr (`label`) and reads it from stdin. When stdin is not a
/// terminal nothing echoes the Enter key, so the prompt line is ended here: what follows
/// (an error) gets a line of its own.
fn prompt_line(label: &str) -> Result<String, CliError> {
    prompt_or_end(label)?.ok_or_else(|| CliError::usage("no input"))
}

/// Like [`prompt_line`], `None` at the end of the input (nobody to ask any more).
fn prompt_or_end(label: &str) -> Result<Option<String>, CliError> {
    eprint!("{label}");
    let line = read_stdin();
    if !std::io::stdin().is_terminal() {
        eprintln!();
    }
    line
}

fn read_stdin_line() -> Result<String, CliError> {
    Ok(read_stdin()?.unwrap_or_default())
}

fn read_stdin() -> Result<Option<String>, CliError> {
    let mut s = String::new();
    let n = std::io::stdin()
        .read_line(&mut s)
        .map_err(|e| CliError::other(format!("cannot read input: {e}")))?;
    Ok((n > 0).then(|| s.trim_end_matches(['\r', '\n']).to_owned()))
}

/// How long a command that shows data waits for the server before showing this device's
/// copy instead.
const CHECK_IN_WAIT: Duration = Duration::from_secs(5);

/// Checks in with the server before showing anything, when it can (bounded by
/// [`CHECK_IN_WAIT`]): a decision on this device's request, a revocation (which wipes
/// and ends the command with exit 7), vault data changed elsewhere. Says on stderr when
/// what follows is this device's copy because the server could not be reached.
async fn check_in(client: &Client) -> Result<(), CliError> {
    let work = async {
        match client.state() {
            EnrollmentState::Verifying {
                verification: Verification::Approval { .. },
                ..
            } => match client.check_approval().await {
                Err(e) if e.is_transient() => Err(e),
                // A used-up code or a gone request shows in the state; not this
                // command's failure.
                _ => Ok(()),
            },
            s if s.is_trusted() => client.sync().await.map(|r| vaults_kept_warning(&r)),
            _ => Ok(()),
        }
    };
    let note = match tokio::time::timeout(CHECK_IN_WAIT, work).await {
        Ok(Ok(())) => return Ok(()),
        Ok(Err(e)) if e.is_transient() => e.to_string(),
        Ok(Err(e)) => return Err(e.into()),
        Err(_) => "the server did not answer in time".to_owned(),
    };
    eprintln!(
        "note: {note} ({}): showing this device's copy",
        client.server_url()
    );
    Ok(())
}

/// Says on stderr which vaults a sync kept against the server's word: missing from its list
/// without a deletion, or with a deletion that does not open under the vault key.
fn vaults_kept_warning(r: &vouch_core::SyncReport) {
    for id in &r.vaults_missing {
        eprintln!(
            "warning: the server no longer lists vault {id} and sent no deletion sealed under \
             its key: it is kept on this device (the server may be tampering)"
        );
    }
    for id in &r.deletions_refused {
        eprintln!(
            "warning: the server says vault {id} was deleted, but the deletion does not open \
             under the vault key: it is kept on this device (the server may be tampering)"
        );
    }
}

/// Runs one command.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    let dir = cli.profile.clone().unwrap_or_else(profile::default_dir);
    let url = cli
        .server
        .clone()
        .or_else(|| profile::saved_server(&dir))
        .unwrap_or_else(|| profile::DEFAULT_SERVER.to_owned());
    run_command(cli, dir).await.map_err(|mut e| {
        // Which server could not be reached, when the core could not say it.
        if e.code == 3 && !e.message.contains(&url) {
            e.message = format!("{} ({url})", e.message);
        }
        e
    })
}

async fn run_command(cli: Cli, dir: std::path::PathBuf) -> Result<(), CliError> {
    let out = Out { json: cli.json };
    let server = cli.server.as_deref();
    let open = || profile::open(&dir, server, None, false);
    match cli.command {
        Command::Demo => crate::demo::run(&out).await,
        Command::SignIn {
            email,
            password_stdin,
            kind: k,
        } => {
            let password = if let Ok(p) = std::env::var("VOUCH_PASSWORD") {
                p
            } else if password_stdin {
                read_stdin_line()?
            } else {
                rpassword::prompt_password(crate::manage::password_prompt(&email, &dir, server))
                    .map_err(|e| CliError::other(format!("cannot read password: {e}")))?
            };
            let mut client = profile::open(&dir, server, Some(kind(k)), true)?;
            let state = client.sign_in(&email, &password).await?;
            // Remembered only now that this server accepted the password.
            client.save()?;
            out.emit(output::state_json(&state), || {
                format!(
                    "{}\nNext: `vouch setup` to trust this device, or `vouch remind-later`.",
                    output::state_line(&state)
                )
            });
            Ok(())
        }
        Command::RemindLater => {
            let state = open()?.remind_me_later().await?;
            out.emit(output::state_json(&state), || output::state_line(&state));
            Ok(())
        }
        Command::Status => {
            let client = open()?;
            // A locked device still says who it is (`"locked": true`), and on stderr why
            // and the ways out; `status` itself succeeds.
            match check_in(&client).await {
                Err(e) if client.is_locked() && e.code == 7 => eprintln!("note: {}", e.message),
                other => other?,
            }
            let state = client.state();
            let queued = client.queued_operations().unwrap_or(0);
            out.emit(json!({"state": output::state_json(&state), "locked": client.is_locked(), "server": client.server_url(), "queued": queued}), || {
                format!("{}{}\nserver: {}{}", output::state_line(&state),
                    if client.is_locked() { " — but LOCKED: the server says it was disabled; its vault keys are kept, unusable" } else { "" },
                    client.server_url(),
                    if queued > 0 { format!("\n{queued} write(s) queued for the server") } else { String::new() })
            });
            Ok(())
        }
        Command::Register { name } => {
            let client = open()?;
            let state = register(&client, name).await?;
            out.emit(output::state_json(&state), || output::state_line(&state));
            Ok(())
        }
        Command::Setup { name, email_code } => {
            let client = open()?;
            match client.state() {
                EnrollmentState::SignedOut => {
                    return Err(CliError::usage(
                        "sign in first: `vouch sign-in --email you@example.com`",
                    ));
                }
                state @ EnrollmentState::Trusted { .. } => {
                    out.emit(output::state_json(&state), || {
                        format!(
                            "This device is already trusted; nothing to set up.\n{}",
                            output::state_line(&state)
                        )
                    });
                    return Ok(());
                }
                // Waiting for an approval (an earlier `setup` was interrupted): show the
                // code again and go on waiting.
                EnrollmentState::Verifying {
                    verification: Verification::Approval { .. },
                    ..
                } if !email_code => {
                    if let Some(prompt) = client.approval_prompt()? {
                        show_prompt(&out, &prompt);
                    }
                    return wait_or_cancel(&client, &dir, &out).await;
                }
                // A code already emailed and still valid (an earlier `setup` was interrupted
                // at the code prompt): ask for it instead of asking the server for another.
                EnrollmentState::Verifying {
                    verification: Verification::EmailCode { expires_at, .. },
                    ..
                } if expires_at > time::OffsetDateTime::now_utc() => {
                    eprintln!("A code was already sent to your email.");
                    let state = enter_email_code(&client).await?;
                    out.emit(output::state_json(&state), || output::state_line(&state));
                    return Ok(());
                }
                EnrollmentState::Verifying { .. } => {}
                _ => {
                    register(&client, name).await?;
                }
            }
            if email_code {
                send_code(&client).await?;
                let state = enter_email_code(&client).await?;
                out.emit(output::state_json(&state), || output::state_line(&state));
                return Ok(());
            }
            match client.start_verification().await? {
                VerificationStarted::Approval(prompt) => {
                    show_prompt(&out, &prompt);
                    wait_or_cancel(&client, &dir, &out).await
                }
                VerificationStarted::EmailCode(_) => {
                    eprintln!(
                        "No device of yours can approve this one yet (it is your first), so a \
                         verification code was sent to your email."
                    );
                    let state = enter_email_code(&client).await?;
                    out.emit(output::state_json(&state), || output::state_line(&state));
                    Ok(())
                }
            }
        }
        Command::EmailCode {
            action: EmailCodeAction::Send,
        } => {
            let state = open()?.request_email_code().await?;
            out.emit(output::state_json(&state), || {
                "A verification code was sent; run `vouch email-code verify CODE`.".into()
            });
            Ok(())
        }
        Command::EmailCode {
            action: EmailCodeAction::Verify { code },
        } => {
            let state = open()?.submit_email_code(&code).await?;
            out.emit(output::state_json(&state), || output::state_line(&state));
            Ok(())
        }
        Command::Approval {
            action: ApprovalAction::Request { no_wait },
        } => {
            let client = open()?;
            let prompt = client.start_approval().await?;
            out.emit(output::prompt_json(&prompt), || {
                output::prompt_human(&prompt)
            });
            if no_wait {
                Ok(())
            } else {
                wait_or_cancel(&client, &dir, &Out { json: out.json }).await
            }
        }
        Command::Approval {
            action: ApprovalAction::Wait,
        } => {
            let client = open()?;
            // The code and QR again: the person may have lost the screen that showed them.
            if let Some(prompt) = client.approval_prompt()? {
                show_prompt(&out, &prompt);
            }
            wait_or_cancel(&client, &dir, &out).await
        }
        Command::Approval {
            action: ApprovalAction::Cancel,
        } => {
            // A command waiting on this request holds the profile until it ends: ask it to
            // withdraw the request (as Ctrl-C does) rather than wait behind it.
            let signalled = profile::stop_waiting_command(&dir);
            let client = open()?;
            if signalled && client.approval_prompt()?.is_none() {
                let state = client.state();
                out.emit(output::state_json(&state), || {
                    "Cancelled: the waiting command withdrew the request.".into()
                });
                return Ok(());
            }
            if client.approval_prompt()?.is_none() {
                return Err(CliError::with_kind(
                    6,
                    "not_possible",
                    "no request of this device is open: nothing to cancel",
                ));
            }
            client.cancel_approval().await?;
            let state = client.state();
            out.emit(output::state_json(&state), || {
                format!(
                    "Cancelled: the request was withdrawn{}.",
                    if matches!(state, EnrollmentState::Untrusted { .. }) {
                        " and this device's registration given back; `vouch setup` starts again"
                    } else {
                        ""
                    }
                )
            });
            Ok(())
        }
        Command::RequestKeys => {
            let client = open()?;
            let prompt = client.request_vault_keys().await?;
            out.emit(output::prompt_json(&prompt), || {
                output::prompt_human(&prompt)
            });
            wait_or_cancel(&client, &dir, &out).await
        }
        Command::Pending => {
            let list = open()?.pending_requests().await?;
            out.emit(
                json!(list.iter().map(output::pending_json).collect::<Vec<_>>()),
                || {
                    if list.is_empty() {
                        "no pending requests".into()
                    } else {
                        list.iter()
                            .map(output::pending_human)
                            .collect::<Vec<_>>()
                            .join("\n\n")
                    }
                },
            );
            Ok(())
        }
        Command::Approve { request_id } => {
            let client = open()?;
            let pending = client.pending_requests().await?;
            let Some(req) = pending.iter().find(|p| p.request_id == request_id) else {
                return Err(CliError::new(5, "no such pending request"));
            };
            // The code is entered only here, after the request's details and the warning.
            eprintln!(
                "{}\n\n{}",
                output::pending_human(req),
                vouch_core::approver_warning(req.purpose)
            );
            let code = prompt_line("Code: ")?;
            // Not six digits: said before anything is sent.
            vouch_core::ApprovalCode::parse(&code)?;
            // The run goes through the server to the new device and back: it must be
            // showing the code (and waiting) now. A lost connection ends in "no answer",
            // a mistyped code in "does not match".
            eprintln!("Waiting for the new device…");
            client.approve(request_id, &code).await?;
            let new_root = req.purpose == vouch_core::proto::ApprovalPurpose::NewRoot;
            out.emit(
                json!({"request_id": request_id, "status": "approved"}),
                || {
                    if new_root {
                        format!(
                            "Approved: the device becomes the first key holder of {} (no vault key was sent).",
                            req.account
                        )
                    } else {
                        "Approved: the new device is receiving your vault keys.".into()
                    }
                },
            );
            Ok(())
        }
        Command::Deny { request_id } => {
            let client = open()?;
            client.pending_requests().await?;
            client.deny(request_id).await?;
            out.emit(
                json!({"request_id": request_id, "status": "denied"}),
                || "Denied.".into(),
            );
            Ok(())
        }
        Command::Chain => crate::chain::chain(&*open()?, &out).await,
        Command::Recovery { action } => crate::recovery::recovery(&*open()?, &out, action).await,
        Command::Devices { action } => {
            crate::manage::devices(&*open()?, &out, action.unwrap_or(DevicesAction::List)).await
        }
        Command::Vault { action } => {
            let client = open()?;
            // What is shown comes from the server's latest when it can be reached (a
            // freshly approved device had blank names and no items until `vouch sync`),
            // and a revoked device learns it before showing a secret.
            if !matches!(
                action,
                VaultCommand::Create { .. }
                    | VaultCommand::Put { .. }
                    | VaultCommand::Delete { .. }
            ) {
                check_in(&client).await?;
            }
            let action = crate::manage::vault_action(&client, action).await?;
            vault(&client, &out, action).await
        }
        Command::Sync => {
            let r = open()?.sync().await?;
            vaults_kept_warning(&r);
            out.emit(json!({"sent": r.sent, "received": r.received, "conflicts": r.conflicts, "queued": r.queued, "refused": r.refused,
                "vaults_deleted": r.vaults_deleted, "vaults_missing": r.vaults_missing, "deletions_refused": r.deletions_refused}), || {
                let mut line = format!("sent {}, received {}, conflicts kept as copies {}, still queued {}", r.sent, r.received, r.conflicts, r.queued);
                if r.refused > 0 {
                    line.push_str(&format!("\nwarning: {} record(s) from the server did not open or were older than this device's copy; they were refused and the good copies kept (the server may be tampering)", r.refused));
                }
                line
            });
            Ok(())
        }
        Command::Admin { action } => crate::admin::run(&*open()?, &out, action).await,
        Command::Console { action } => crate::console::run(&*open()?, &out, action).await,
        Command::SignOut { yes } => crate::manage::sign_out(&dir, server, &out, yes).await,
        Command::Profiles => crate::manage::profiles(&dir, &out),
    }
}

/// Names and registers this device ("Name your device"): the given name, or on a
/// terminal the proposed name to accept or change. A proposed name already taken by
/// another of the user's devices is replaced by the first free "NAME (2)", "NAME (3)"…;
/// a chosen one is refused with a free one suggested.
async fn register(client: &Client, name: Option<String>) -> Result<EnrollmentState, CliError> {
    let proposed = client.default_device_name()?;
    let (mut name, chosen) = match name {
        Some(n) => (n, true),
        None if std::io::stdin().is_terminal() => {
            let typed = prompt_line(&format!("Name your device [{proposed}]: "))?;
            if typed.trim().is_empty() {
                (proposed, false)
            } else {
                (typed, true)
            }
        }
        None => (proposed, false),
    };
    let base = name.clone();
    for n in 2..=u32::from(MAX_NAME_TRIES) {
        match client.register_device(&name).await {
            Err(vouch_core::Error::Server {
                code: ErrorCode::DeviceNameTaken,
                ..
            }) if !chosen => name = numbered(&base, n),
            Err(vouch_core::Error::Server {
                code: ErrorCode::DeviceNameTaken,
                ..
            }) => {
                return Err(CliError::with_kind(
                    4,
                    "device_name_taken",
                    format!(
                        "another of your devices is already called \"{base}\"; choose another \
                         name, e.g. `--name \"{}\"`",
                        numbered(&base, 2)
                    ),
                ));
            }
            other => return Ok(other?),
        }
    }
    Ok(client.register_device(&name).await?)
}

/// How many numbered names `register` tries for a proposed name (the device limit).
const MAX_NAME_TRIES: u8 = 20;

/// `"NAME (n)"`, kept within the name length rule.
fn numbered(base: &str, n: u32) -> String {
    let suffix = format!(" ({n})");
    let room = vouch_core::proto::DEVICE_NAME_MAX_CHARS - suffix.chars().count();
    format!("{}{suffix}", base.chars().take(room).collect::<String>())
}

/// Prints the code and QR (text mode; JSON callers got the prompt document).
fn show_prompt(out: &Out, prompt: &vouch_core::ApprovalPrompt) {
    if !out.json {
        output::line(&output::prompt_human(prompt));
    }
}

/// Sends an email code; one already sent and still valid is used instead of failing on
/// the re-send throttle.
async fn send_code(client: &Client) -> Result<(), CliError> {
    if let EnrollmentState::Verifying {
        verification: Verification::EmailCode { expires_at, .. },
        ..
    } = client.state()
        && expires_at > time::OffsetDateTime::now_utc()
    {
        eprintln!(
            "A code was already sent to your email (valid until {}).",
            output::ts(&expires_at)
        );
        return Ok(());
    }
    client.request_email_code().await?;
    eprintln!("A verification code was sent to your email.");
    Ok(())
}

/// Asks for the emailed code until it is right: a wrong code asks again (saying how many
/// tries are left), an empty line sends a new code, and a void or expired code says so
/// and asks for the new one. The end of the input stops with the command to go on later.
async fn enter_email_code(client: &Client) -> Result<EnrollmentState, CliError> {
    loop {
        let Some(code) = prompt_or_end("Code (empty for a new one): ")? else {
            return Err(CliError::usage(
                "no code entered: run `vouch email-code verify CODE` when you have it",
            ));
        };
        if code.trim().is_empty() {
            match client.request_email_code().await {
                Ok(_) => eprintln!("A new code was sent."),
                Err(vouch_core::Error::Server {
                    code: ErrorCode::TooManyRequests,
                    retry_after_secs,
                    ..
                }) => eprintln!(
                    "A new code can be sent in {} s; use the last one until then.",
                    retry_after_secs.unwrap_or(1)
                ),
                Err(e) => return Err(e.into()),
            }
            continue;
        }
        match client.submit_email_code(&code).await {
            Ok(state) => return Ok(state),
            Err(
                e @ vouch_core::Error::Server {
                    code: ErrorCode::InvalidCode | ErrorCode::CodeExpired,
                    ..
                },
            ) => eprintln!("{}", CliError::from(e).message),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Waits for the decision; Ctrl-C withdraws the request (a request left open would wait
/// on the approvers' screens for nothing) and exits 130.
async fn wait_or_cancel(client: &Client, dir: &std::path::Path, out: &Out) -> Result<(), CliError> {
    // Listening before anything says "waiting", so a Ctrl-C after that line is never lost.
    let interrupted = interrupt()?;
    // `vouch approval cancel` from another terminal finds this command by its mark and
    // asks it to withdraw (SIGTERM) instead of waiting for the profile.
    let _mark = profile::mark_waiting(dir);
    tokio::select! {
        r = wait(client, out) => r,
        _ = interrupted => {
            let _ = client.cancel_approval().await;
            Err(CliError::with_kind(
                130,
                "interrupted",
                "interrupted: the request was withdrawn",
            ))
        }
    }
}

/// A future that ends at Ctrl-C (SIGINT) or a polite kill (SIGTERM); the handlers are in
/// place when this returns.
#[cfg(unix)]
fn interrupt() -> Result<impl std::future::Future<Output = ()>, CliError> {
    use tokio::signal::unix::{SignalKind, signal};
    let listen =
        |kind| signal(kind).map_err(|e| CliError::other(format!("cannot listen for Ctrl-C: {e}")));
    let (mut sigint, mut sigterm) = (
        listen(SignalKind::interrupt())?,
        listen(SignalKind::terminate())?,
    );
    Ok(async move {
        tokio::select! {
            _ = sigint.recv() => {}
            _ = sigterm.recv() => {}
        }
    })
}

/// A future that ends at Ctrl-C.
#[cfg(not(unix))]
fn interrupt() -> Result<impl std::future::Future<Output = ()>, CliError> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

/// Waits for the open request with a spinner (a plain line when stderr is not a
/// terminal).
async fn wait(client: &Client, out: &Out) -> Result<(), CliError> {
    if !std::io::stderr().is_terminal() {
        eprintln!("Waiting for approval… (Ctrl-C withdraws the request)");
    }
    let spinner = indicatif::ProgressBar::new_spinner();
    spinner.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    spinner.set_message("Waiting for approval… (Ctrl-C withdraws the request)");
    spinner.enable_steady_tick(Duration::from_millis(100));
    let state = client.wait_for_approval().await;
    spinner.finish_and_clear();
    let state = state?;
    out.emit(output::state_json(&state), || output::state_line(&state));
    match state {
        EnrollmentState::Trusted { .. } => Ok(()),
        EnrollmentState::Denied { .. } => Err(CliError::new(4, "the request was denied")),
        EnrollmentState::Expired { .. } => Err(CliError::new(
            4,
            "the request expired: run `vouch setup` to start again",
        )),
        _ => Ok(()),
    }
}

async fn vault(client: &Client, out: &Out, action: VaultAction) -> Result<(), CliError> {
    match action {
        VaultAction::Create { name } => {
            let v = client.create_vault(&name).await?;
            out.emit(output::vault_json(&v), || {
                format!("Created vault \"{}\" {}", v.name, v.id)
            });
        }
        VaultAction::List => {
            let list = client.vaults()?;
            out.emit(
                json!(list.iter().map(output::vault_json).collect::<Vec<_>>()),
                || {
                    list.iter()
                        .map(|v| {
                            format!(
                                "{}  {}{}",
                                v.id,
                                v.name,
                                if v.has_key {
                                    ""
                                } else {
                                    "  (no key on this device: `vouch request-keys`)"
                                }
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                },
            );
        }
        VaultAction::Items { vault_id } => {
            let items = client.list_items(vault_id)?;
            out.emit(json!(items.iter().map(|i| json!({"item_id": i.item_id, "title": i.title, "version": i.version, "synced": i.synced})).collect::<Vec<_>>()), || {
                items.iter().map(|i| format!("{}  v{}  {}{}", i.item_id, i.version, i.title.as_deref().unwrap_or("(no title)"), if i.synced { "" } else { "  (queued)" })).collect::<Vec<_>>().join("\n")
            });
        }
        VaultAction::DeleteVault { vault_id, yes } => {
            let v = client.find_vault(&vault_id.to_string())?;
            let items = client.list_items(vault_id).map(|i| i.len()).unwrap_or(0);
            crate::manage::confirm(
                &format!(
                    "Delete the vault \"{}\" with its {items} item(s) on every device of yours? \
                     This cannot be undone",
                    v.name
                ),
                yes,
            )?;
            client.delete_vault(vault_id).await?;
            out.emit(json!({"vault_id": vault_id, "deleted": true}), || {
                format!("Deleted vault \"{}\" {vault_id}", v.name)
            });
        }
        VaultAction::Put {
            vault_id,
            item,
            title,
            value,
            file,
        } => {
            // Bytes in = bytes out: nothing is trimmed or re-encoded.
            let value = zeroize::Zeroizing::new(match (value, file) {
                (Some(v), _) => v.into_bytes(),
                (None, Some(path)) => std::fs::read(&path)
                    .map_err(|e| CliError::usage(format!("cannot read {}: {e}", path.display())))?,
                (None, None) if std::io::stdin().is_terminal() => {
                    rpassword::prompt_password("Value (hidden): ")
                        .map_err(|e| CliError::other(format!("cannot read input: {e}")))?
                        .into_bytes()
                }
                (None, None) => {
                    let mut buf = Vec::new();
                    std::io::stdin()
                        .read_to_end(&mut buf)
                        .map_err(|e| CliError::other(format!("cannot read input: {e}")))?;
                    buf
                }
            });
            let info = client
                .put_titled_item(vault_id, item, title.as_deref(), &value)
                .await?;
            if let Some(copy) = info.conflict_copy {
                // Not "queued": the server had a newer version from another device.
                return Err(CliError::with_kind(
                    4,
                    "version_conflict",
                    format!(
                        "conflict: item {} was changed on another device (now v{}); your \
                         value was kept as a new item {copy}",
                        info.item_id, info.version
                    ),
                )
                .with_details(
                    json!({"item_id": info.item_id, "server_version": info.version,
                    "copy_id": copy}),
                ));
            }
            out.emit(
                json!({"item_id": info.item_id, "title": info.title, "version": info.version, "synced": info.synced}),
                || {
                    format!(
                        "Stored item {} v{}{}",
                        info.item_id,
                        info.version,
                        if info.synced {
                            String::new()
                        } else {
                            format!(
                                " (queued, not sent yet: {} could not be reached, or the \
                                 vault's key changed and the item is sealed again; sent by \
                                 the next command or `vouch sync`)",
                                client.server_url()
                            )
                        }
                    )
                },
            );
        }
        VaultAction::Get { vault_id, item_id } => {
            let Some(value) = client.get_item(vault_id, item_id)? else {
                return Err(CliError::new(4, "no such item"));
            };
            if out.json {
                let doc = match std::str::from_utf8(&value) {
                    Ok(text) => json!({"item_id": item_id, "value": text}),
                    Err(_) => json!({"item_id": item_id,
                        "value_b64": vouch_core::proto::Bytes(value.to_vec()).to_b64()}),
                };
                out.emit(doc, String::new);
            } else {
                output::bytes(&value);
            }
        }
        VaultAction::Delete { vault_id, item_id } => {
            let info = client.delete_item(vault_id, item_id).await?;
            out.emit(
                json!({"item_id": info.item_id, "version": info.version, "deleted": true}),
                || format!("Deleted {item_id}"),
            );
        }
    }
    Ok(())
}
