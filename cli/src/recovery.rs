//! `vouch recovery create|use|revoke`: the recovery key (24 words) that brings the vaults
//! back when every device is lost.

use std::io::{IsTerminal, Read};

use serde_json::json;
use vouch_core::Client;
use zeroize::Zeroizing;

use crate::{CliError, RecoveryAction, manage::confirm, output::Out};

/// Runs one `vouch recovery` command.
pub async fn recovery(client: &Client, out: &Out, action: RecoveryAction) -> Result<(), CliError> {
    match action {
        RecoveryAction::Create { yes } => {
            let had =
                client.chain_members().await?.iter().any(|m| {
                    m.role == vouch_core::chain::Role::RecoveryKey && m.revoked_at.is_none()
                });
            if had {
                confirm(
                    "Replace your recovery key? The words you wrote down before stop working",
                    yes,
                )?;
            }
            let words = client.create_recovery_key().await?;
            out.emit(json!({ "words": words.as_str() }), || words_human(&words));
        }
        RecoveryAction::Use { yes } => {
            // Say first what it does to the other devices: the key holders are taken to be
            // lost (revoked), the devices verified by email only to be a thief's (disabled).
            let (others, email_only): (Vec<String>, Vec<String>) = {
                let members = client.chain_members().await?;
                let devices = client.devices().await.unwrap_or_default();
                let name = |id: uuid::Uuid| {
                    devices
                        .iter()
                        .find(|d| d.id == id)
                        .map_or_else(|| id.to_string(), |d| format!("\"{}\"", d.name))
                };
                let me = client.state().device_id();
                (
                    members
                        .iter()
                        .filter(|m| {
                            m.role == vouch_core::chain::Role::Device
                                && m.revoked_at.is_none()
                                && !m.this_device
                        })
                        .map(|m| name(m.id))
                        .collect(),
                    devices
                        .iter()
                        .filter(|d| {
                            Some(d.id) != me
                                && (d.status == vouch_core::proto::DeviceStatus::Pending
                                    || (d.status == vouch_core::proto::DeviceStatus::Trusted
                                        && d.tier == Some(vouch_core::proto::Tier::EmailOnly)))
                        })
                        .map(|d| name(d.id))
                        .collect(),
                )
            };
            if !others.is_empty() || !email_only.is_empty() {
                let mut question = String::from("Use the recovery key?");
                if !others.is_empty() {
                    question.push_str(&format!(
                        " Your other devices are taken to be lost: {} will be revoked and lose your vaults (if you still have one, approve this device from it instead).",
                        others.join(", ")
                    ));
                }
                if !email_only.is_empty() {
                    question.push_str(&format!(
                        " Devices verified by email only or not verified yet are disabled (someone with your password and mailbox may have added them): {}.",
                        email_only.join(", ")
                    ));
                }
                confirm(question.trim_end_matches('.'), yes)?;
            }
            let words = read_words()?;
            let done = client.use_recovery_key(&words).await?;
            let devices = client.devices().await.unwrap_or_default();
            let names_of = |ids: &[uuid::Uuid]| -> Vec<String> {
                ids.iter()
                    .map(|id| {
                        devices
                            .iter()
                            .find(|d| d.id == *id)
                            .map_or_else(|| id.to_string(), |d| format!("\"{}\"", d.name))
                    })
                    .collect()
            };
            let (names, disabled) = (names_of(&done.revoked), names_of(&done.disabled));
            out.emit(
                json!({
                    "state": done.state.name(),
                    "vault_keys": done.vault_keys,
                    "revoked": done.revoked,
                    "disabled": done.disabled,
                }),
                || {
                    let mut text = format!(
                        "This device holds your vault keys again ({} key(s) restored).",
                        done.vault_keys
                    );
                    if !names.is_empty() {
                        text.push_str(&format!(
                            "\nYour other devices were revoked and the keys rotated away from them: {}.",
                            names.join(", ")
                        ));
                    }
                    if !disabled.is_empty() {
                        text.push_str(&format!(
                            "\nDevices verified by email only or not verified yet were disabled: {}.",
                            disabled.join(", ")
                        ));
                    }
                    text.push_str("\nYour recovery key still works; `vouch recovery create` replaces it.");
                    text
                },
            );
        }
        RecoveryAction::Revoke { yes } => {
            confirm(
                "Revoke your recovery key? Its words stop working and the vault keys are rotated",
                yes,
            )?;
            let revoked = client.revoke_recovery_key().await?;
            out.emit(json!({ "revoked": revoked }), || {
                if revoked {
                    "Recovery key revoked; the vault keys were rotated.".into()
                } else {
                    "There was no recovery key.".into()
                }
            });
        }
    }
    Ok(())
}

/// The words from a hidden prompt on a terminal, else from stdin (never the command line:
/// they would land in the shell's history).
fn read_words() -> Result<Zeroizing<String>, CliError> {
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password("Recovery key (24 words, hidden): ")
            .map(Zeroizing::new)
            .map_err(|e| CliError::other(format!("cannot read input: {e}")));
    }
    let mut words = Zeroizing::new(String::new());
    std::io::stdin()
        .read_to_string(&mut words)
        .map_err(|e| CliError::other(format!("cannot read input: {e}")))?;
    Ok(words)
}

fn words_human(words: &str) -> String {
    let list: Vec<&str> = words.split(' ').collect();
    let mut text = String::from(
        "Your recovery key. Write these 24 words down and keep them somewhere safe: with them,\n\
         a new device gets your vaults back when every device is lost. They are shown once and\n\
         stored nowhere; nobody from Vouch or your company will ever ask you for them — only\n\
         `vouch recovery use` on your own new device does.\n\n",
    );
    for (row, chunk) in list.chunks(4).enumerate() {
        let line: Vec<String> = chunk
            .iter()
            .enumerate()
            .map(|(i, w)| format!("{:>2}. {w:<9}", row * 4 + i + 1))
            .collect();
        text.push_str(line.join(" ").trim_end());
        text.push('\n');
    }
    text.push_str("\nOn a new device: `vouch setup --email-code`, then `vouch recovery use`.");
    text
}
