//! One function per command, over `vouch_core::Client`.

use std::{
    io::{IsTerminal, Read},
    time::Duration,
};

use serde_json::json;
use vouch_core::{Client, EnrollmentState, proto::DeviceKind};

use crate::{
    ApprovalAction, Cli, CliError, Command, DevicesAction, EmailCodeAction, Kind, VaultAction,
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
    eprint!("{label}");
    let line = read_stdin_line();
    if !std::io::stdin().is_terminal() {
        eprintln!();
    }
    line
}

fn read_stdin_line() -> Result<String, CliError> {
    let mut s = String::new();
    std::io::stdin()
        .read_line(&mut s)
        .map_err(|e| CliError::other(format!("cannot read input: {e}")))?;
    Ok(s.trim_end_matches(['\r', '\n']).to_owned())
}

/// Runs one command.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    let out = Out { json: cli.json };
    let dir = cli.profile.clone().unwrap_or_else(profile::default_dir);
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
            let client = profile::open(&dir, server, Some(kind(k)), true)?;
            let state = client.sign_in(&email, &password).await?;
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
            let state = client.state();
            let queued = client.queued_operations().unwrap_or(0);
            out.emit(json!({"state": output::state_json(&state), "server": client.server_url(), "queued": queued}), || {
                format!("{}\nserver: {}{}", output::state_line(&state), client.server_url(),
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
            if !matches!(client.state(), EnrollmentState::Verifying { .. }) {
                register(&client, name).await?;
            }
            if email_code {
                client.request_email_code().await?;
                let code = prompt_line("A code was sent to your email. Code: ")?;
                let state = client.submit_email_code(&code).await?;
                out.emit(output::state_json(&state), || output::state_line(&state));
                Ok(())
            } else {
                let prompt = client.start_approval().await?;
                if !out.json {
                    output::line(&output::prompt_human(&prompt));
                }
                wait(&client, &out).await
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
                wait(&client, &Out { json: out.json }).await
            }
        }
        Command::Approval {
            action: ApprovalAction::Wait,
        } => wait(&open()?, &out).await,
        Command::RequestKeys => {
            let client = open()?;
            let prompt = client.request_vault_keys().await?;
            out.emit(output::prompt_json(&prompt), || {
                output::prompt_human(&prompt)
            });
            wait(&client, &out).await
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
                vouch_core::APPROVER_WARNING
            );
            let code = prompt_line("Code: ")?;
            // Not six digits: said before anything is sent.
            vouch_core::crypto::ApprovalCode::parse(&code)?;
            // The run goes through the server to the new device and back: it must be
            // showing the code (and waiting) now. A lost connection ends in "no answer",
            // a mistyped code in "does not match".
            eprintln!("Waiting for the new device…");
            client.approve(request_id, &code).await?;
            out.emit(
                json!({"request_id": request_id, "status": "approved"}),
                || "Approved: the new device is receiving your vault keys.".into(),
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
        Command::Devices { action } => {
            crate::manage::devices(&open()?, &out, action.unwrap_or(DevicesAction::List)).await
        }
        Command::Vault { action } => {
            let client = open()?;
            vault(
                &client,
                &out,
                crate::manage::vault_action(&client, action).await?,
            )
            .await
        }
        Command::Sync => {
            let r = open()?.sync().await?;
            out.emit(json!({"sent": r.sent, "received": r.received, "conflicts": r.conflicts, "queued": r.queued, "refused": r.refused}), || {
                let mut line = format!("sent {}, received {}, conflicts kept as copies {}, still queued {}", r.sent, r.received, r.conflicts, r.queued);
                if r.refused > 0 {
                    line.push_str(&format!("\nwarning: {} record(s) from the server did not open or were older than this device's copy; they were refused and the good copies kept (the server may be tampering)", r.refused));
                }
                line
            });
            Ok(())
        }
        Command::Admin { action } => crate::admin::run(&open()?, &out, action).await,
        Command::SignOut { yes } => crate::manage::sign_out(&dir, server, &out, yes).await,
        Command::Profiles => crate::manage::profiles(&dir, &out),
    }
}

async fn register(client: &Client, name: Option<String>) -> Result<EnrollmentState, CliError> {
    let name = match name {
        Some(n) => n,
        None => client.default_device_name()?,
    };
    Ok(client.register_device(&name).await?)
}

/// Waits for the open request with a spinner (hidden when stderr is not a terminal).
async fn wait(client: &Client, out: &Out) -> Result<(), CliError> {
    let spinner = indicatif::ProgressBar::new_spinner();
    spinner.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    spinner.set_message("Waiting for approval…");
    spinner.enable_steady_tick(Duration::from_millis(100));
    let state = client.wait_for_approval().await;
    spinner.finish_and_clear();
    let state = state?;
    out.emit(output::state_json(&state), || output::state_line(&state));
    match state {
        EnrollmentState::Trusted { .. } => Ok(()),
        EnrollmentState::Denied { .. } => Err(CliError::new(4, "the request was denied")),
        EnrollmentState::Expired { .. } => Err(CliError::new(4, "the request expired")),
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
            out.emit(json!(items.iter().map(|i| json!({"item_id": i.item_id, "version": i.version, "synced": i.synced})).collect::<Vec<_>>()), || {
                items.iter().map(|i| format!("{}  v{}{}", i.item_id, i.version, if i.synced { "" } else { "  (queued)" })).collect::<Vec<_>>().join("\n")
            });
        }
        VaultAction::Put {
            vault_id,
            item,
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
            let info = client.put_item(vault_id, item, &value).await?;
            out.emit(
                json!({"item_id": info.item_id, "version": info.version, "synced": info.synced}),
                || {
                    format!(
                        "Stored item {} v{}{}",
                        info.item_id,
                        info.version,
                        if info.synced {
                            ""
                        } else {
                            " (queued: server unreachable)"
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
