//! `vouch admin …`: workspace administration from an admin's key holder. Users are named
//! by email or id everywhere.

use serde_json::json;
use vouch_core::{
    Client,
    proto::{AdminUser, AuditEvent, enum_name},
};

use crate::{
    AdminAction, CliError,
    manage::{confirm, devices_human, devices_json},
    output::{Out, ts},
};

pub async fn run(client: &Client, out: &Out, action: AdminAction) -> Result<(), CliError> {
    let this = client.state().device_id();
    match action {
        AdminAction::Devices { user } => {
            let user = match user {
                Some(u) => Some(client.admin_user(&u).await?),
                None => None,
            };
            let list = client.admin_devices(user.as_ref().map(|u| u.id)).await?;
            // Emails for the headings (the text form only).
            let users = if out.json {
                Vec::new()
            } else {
                client.admin_users().await.unwrap_or_default()
            };
            let email = |id: uuid::Uuid| {
                users
                    .iter()
                    .find(|u| u.id == id)
                    .map_or_else(|| format!("user {id}"), |u| format!("{} ({id})", u.email))
            };
            out.emit(devices_json(&list, this), || {
                let mut by_user: Vec<(uuid::Uuid, Vec<_>)> = Vec::new();
                for d in &list {
                    match by_user.iter_mut().find(|(u, _)| *u == d.user_id) {
                        Some((_, ds)) => ds.push(d.clone()),
                        None => by_user.push((d.user_id, vec![d.clone()])),
                    }
                }
                by_user
                    .iter()
                    .map(|(u, ds)| format!("{}:\n{}", email(*u), devices_human(ds, this)))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        AdminAction::Users => {
            let users = client.admin_users().await?;
            out.emit(
                json!(users.iter().map(user_json).collect::<Vec<_>>()),
                || users.iter().map(user_human).collect::<Vec<_>>().join("\n"),
            );
        }
        AdminAction::Unlock { user } => {
            let u = client.admin_user(&user).await?;
            client.admin_unlock(u.id).await?;
            out.emit(
                json!({"user_id": u.id, "email": u.email, "unlocked": true}),
                || format!("Unlocked {}: codes and sign-in work again.", u.email),
            );
        }
        AdminAction::Disable { device, user, yes } => {
            let user = match user {
                Some(u) => Some(client.admin_user(&u).await?),
                None => None,
            };
            let list = client.admin_devices(user.as_ref().map(|u| u.id)).await?;
            let target = crate::manage::find_device(&list, &device)?;
            let owner = match &user {
                Some(u) => u.email.clone(),
                None => client
                    .admin_users()
                    .await?
                    .into_iter()
                    .find(|u| u.id == target.user_id)
                    .map_or_else(|| target.user_id.to_string(), |u| u.email),
            };
            let mut question = format!(
                "Disable \"{}\" of {owner} ({}, {})? It can no longer reach the user's vaults and wipes its keys and items when it next connects",
                target.name,
                enum_name(&target.kind),
                enum_name(&target.status)
            );
            if Some(target.id) == this {
                question.push_str(" — it is THIS device: its keys and items here are wiped now");
            }
            confirm(&question, yes)?;
            let ids = client.disable_devices(target.id, false).await?;
            out.emit(
                json!({"device_id": target.id, "user_id": target.user_id, "disabled": ids}),
                || format!("Disabled \"{}\" of {owner}.", target.name),
            );
        }
        AdminAction::Deprovision { user, yes } => {
            let u = client.admin_user(&user).await?;
            confirm(
                &format!(
                    "Deprovision {}? Their {} device(s) ({} trusted) are disabled and wipe their keys, and they can no longer sign in",
                    u.email, u.devices, u.trusted_devices
                ),
                yes,
            )?;
            let ids = client.admin_deprovision(u.id).await?;
            out.emit(
                json!({"user_id": u.id, "email": u.email, "disabled": ids}),
                || {
                    format!(
                        "Deprovisioned {}: {} device(s) disabled.",
                        u.email,
                        ids.len()
                    )
                },
            );
        }
        AdminAction::Reactivate { user } => {
            let u = client.admin_user(&user).await?;
            if u.deprovisioned_at.is_none() {
                // Nothing to do (the server changes nothing either): said as such.
                out.emit(user_json(&u), || {
                    format!("{} is not deprovisioned: nothing to reactivate.", u.email)
                });
                return Ok(());
            }
            let u = client.admin_reactivate(u.id).await?;
            out.emit(user_json(&u), || {
                format!(
                    "Reactivated {}: they can sign in again and set up new devices (the old ones stay disabled). A new device verified by email is email-only: it gets the vaults back with the recovery key (`vouch recovery use`), or asks with `vouch request-keys` and an admin key holder approves it with the code it shows (`vouch pending`, `vouch approve`), making it the first key holder of a new chain.",
                    u.email
                )
            });
        }
        AdminAction::Audit { user, limit } => {
            let user_id = match user {
                Some(u) => Some(client.admin_user(&u).await?.id),
                None => None,
            };
            let log = client.admin_audit(user_id, limit).await?;
            out.emit(
                json!(log.iter().map(audit_json).collect::<Vec<_>>()),
                || {
                    if log.is_empty() {
                        "no entries".into()
                    } else {
                        log.iter().map(audit_human).collect::<Vec<_>>().join("\n")
                    }
                },
            );
        }
    }
    Ok(())
}

fn user_json(u: &AdminUser) -> serde_json::Value {
    json!({
        "user_id": u.id, "email": u.email, "role": enum_name(&u.role),
        "deprovisioned_at": u.deprovisioned_at.as_ref().map(ts),
        "devices": u.devices, "trusted_devices": u.trusted_devices,
    })
}

fn user_human(u: &AdminUser) -> String {
    format!(
        "{}  {:<28} {:<6}  {} device(s), {} trusted{}",
        u.id,
        u.email,
        enum_name(&u.role),
        u.devices,
        u.trusted_devices,
        u.deprovisioned_at
            .as_ref()
            .map(|t| format!("  DEPROVISIONED {}", ts(t)))
            .unwrap_or_default()
    )
}

fn audit_json(e: &AuditEvent) -> serde_json::Value {
    serde_json::to_value(e).unwrap_or_default()
}

fn audit_human(e: &AuditEvent) -> String {
    let device = match (&e.device_name, e.device_id) {
        (Some(n), _) => format!(" \"{n}\""),
        (None, Some(id)) => format!(" {id}"),
        (None, None) => String::new(),
    };
    let by = match (&e.actor_email, e.actor_device_id) {
        (Some(email), Some(d)) => format!(" by {email} (device {d})"),
        (None, Some(d)) => format!(" by device {d}"),
        _ => String::new(),
    };
    let from = e
        .origin
        .as_ref()
        .map(|o| format!(" from {o}"))
        .unwrap_or_default();
    let detail = e
        .detail
        .as_ref()
        .map(|d| format!(" ({d})"))
        .unwrap_or_default();
    format!(
        "{}  {}  {}{device}{by}{from}{detail}",
        ts(&e.at),
        e.user_email,
        enum_name(&e.action).replace('_', " "),
    )
}
