//! What people expect of a device beyond enrolling it: confirmations, signing out, the
//! list of profiles, this user's devices (which one is this, when each was last seen,
//! how it was verified), renaming and disabling devices.

use std::{
    io::IsTerminal,
    path::{Path, PathBuf},
};

use serde_json::{Value, json};
use vouch_core::{
    Client, EnrollmentState,
    proto::{Device, DeviceStatus, Tier, VerifiedBy, enum_name},
};

use crate::{
    CliError, DevicesAction, VaultAction, VaultCommand,
    output::{self, Out},
    profile,
};

/// A profile's saved settings, if it has readable ones (the one place this file reads them).
fn saved_settings(dir: &Path) -> Option<profile::Settings> {
    profile::load_settings(dir).ok().flatten()
}

/// The password prompt names the account and the server it is for.
pub fn password_prompt(email: &str, dir: &Path, server: Option<&str>) -> String {
    let server = server
        .map(str::to_owned)
        .or_else(|| saved_settings(dir).map(|s| s.server))
        .unwrap_or_else(|| profile::DEFAULT_SERVER.to_owned());
    format!("password for {email} at {server}: ")
}

/// Asks before something that cannot be undone. `--yes` skips the question; without a
/// terminal to ask on, the command is refused (exit 2) and says to pass `--yes`.
pub fn confirm(question: &str, yes: bool) -> Result<(), CliError> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::with_kind(
            2,
            "confirmation_required",
            format!(
                "{} — pass --yes to do it without a question",
                question.replace('\n', " ").trim_end_matches('?')
            ),
        ));
    }
    eprint!("{question} [y/N] ");
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| CliError::other(format!("cannot read input: {e}")))?;
    match answer.trim().to_lowercase().as_str() {
        "y" | "yes" => Ok(()),
        _ => Err(CliError::with_kind(
            1,
            "cancelled",
            "cancelled: nothing was changed",
        )),
    }
}

// ---- devices -----------------------------------------------------------------------------

/// `vouch devices [list | rename | disable]`.
pub async fn devices(client: &Client, out: &Out, action: DevicesAction) -> Result<(), CliError> {
    let this = client.state().device_id();
    match action {
        DevicesAction::List => {
            let list = client.devices().await?;
            out.emit(devices_json(&list, this), || devices_human(&list, this));
        }
        DevicesAction::Rename { device, new_name } => {
            let list = client.devices().await?;
            let target = find_device(&list, &device)?;
            let d = client.rename_device(target.id, &new_name).await?;
            out.emit(device_json(&d, this), || {
                format!("Renamed \"{}\" to \"{}\".", target.name, d.name)
            });
        }
        DevicesAction::Disable {
            device,
            also_approved,
            yes,
        } => {
            let list = client.devices().await?;
            // On a key holder the chain's names (signed when each device was approved)
            // come first: the server's list names devices as it likes, and a server that
            // swapped two names would turn "disable the stolen laptop" into revoking
            // another key holder (black-box review, stop 16).
            let members = if client.state().is_key_holder() {
                client.chain_members().await?
            } else {
                Vec::new()
            };
            let target = match find_on_chain(&members, &list, &device)? {
                Some(d) => d,
                None => {
                    let d = find_device(&list, &device)?;
                    // Found by the server's name: a key holder approved under another name
                    // is not taken on the server's word (re-review N6).
                    if let Some(signed) = members
                        .iter()
                        .find(|m| m.id == d.id)
                        .and_then(|m| m.name.as_deref())
                        && d.id.to_string() != device.trim().to_lowercase()
                        && signed.trim().to_lowercase() != device.trim().to_lowercase()
                    {
                        return Err(CliError::with_kind(
                            2,
                            "name_not_signed",
                            format!(
                                "the server calls a device {}, but on your chain it was approved as {}: disable it by that name or by its id ({})",
                                crate::output::quoted(&d.name),
                                crate::output::quoted(signed),
                                d.id
                            ),
                        ));
                    }
                    d
                }
            };
            let signed = members
                .iter()
                .find(|m| m.id == target.id)
                .and_then(|m| m.name.clone());
            let shown = match signed {
                Some(s) if s != target.name => format!(
                    "{} (approved under that name; the server now calls it {})",
                    crate::output::quoted(&s),
                    crate::output::quoted(&target.name)
                ),
                _ => crate::output::quoted(&target.name),
            };
            let mut question = format!(
                "Disable {shown} ({}, {})? It can no longer reach your vaults and wipes its keys and items when it next connects",
                enum_name(&target.kind),
                enum_name(&target.status)
            );
            if Some(target.id) == this {
                question.push_str(" — it is THIS device: its keys and items here are wiped now");
            }
            if also_approved {
                let month_ago = time::OffsetDateTime::now_utc() - time::Duration::days(30);
                let approved = list
                    .iter()
                    .filter(|d| {
                        d.approved_by == Some(target.id)
                            && d.status == DeviceStatus::Trusted
                            && d.verified_at.is_some_and(|t| t > month_ago)
                    })
                    .map(|d| format!("\"{}\"", d.name))
                    .collect::<Vec<_>>();
                if !approved.is_empty() {
                    question.push_str(&format!(
                        ", and the {} device(s) it approved in the last 30 days: {}",
                        approved.len(),
                        approved.join(", ")
                    ));
                }
            }
            question.push('?');
            confirm(&question, yes)?;
            let disabled = client.disable_devices(target.id, also_approved).await?;
            out.emit(json!({"disabled": disabled}), || {
                let names: Vec<String> = disabled
                    .iter()
                    .map(|id| {
                        list.iter()
                            .find(|d| d.id == *id)
                            .map_or_else(|| id.to_string(), |d| format!("\"{}\" ({id})", d.name))
                    })
                    .collect();
                format!("Disabled {}.", names.join(", "))
            });
        }
    }
    Ok(())
}

/// A live key holder by the name it was vouched under on the chain (trimmed,
/// case-insensitive), and its entry in the server's list; `None` when no chain name
/// matches (then the server's names are searched).
fn find_on_chain<'a>(
    members: &[vouch_core::ChainMember],
    list: &'a [Device],
    wanted: &str,
) -> Result<Option<&'a Device>, CliError> {
    let key = wanted.trim().to_lowercase();
    let signed_as = |m: &&vouch_core::ChainMember| {
        m.name
            .as_deref()
            .is_some_and(|n| n.trim().to_lowercase() == key)
    };
    let named: Vec<&vouch_core::ChainMember> = members
        .iter()
        .filter(|m| m.revoked_at.is_none())
        .filter(signed_as)
        .collect();
    match named.as_slice() {
        // Only a revoked key holder was approved under that name: it is done, and the
        // server's list is not searched for another device with it (re-review N6).
        [] if members.iter().any(|m| signed_as(&m)) => Err(CliError::with_kind(
            5,
            "already_revoked",
            format!("the key holder approved as \"{wanted}\" is already revoked on your chain"),
        )),
        [] => Ok(None),
        [m] => list.iter().find(|d| d.id == m.id).map(Some).ok_or_else(|| {
            CliError::with_kind(
                5,
                "unknown_device",
                format!(
                    "the key holder \"{wanted}\" on your chain ({}) is not in the server's list",
                    m.id
                ),
            )
        }),
        _ => Err(CliError::with_kind(
            2,
            "ambiguous_device",
            format!("more than one key holder was approved as \"{wanted}\"; use its id"),
        )),
    }
}

/// A device of the list by id or by name (trimmed, case-insensitive; live devices first).
pub fn find_device<'a>(list: &'a [Device], wanted: &str) -> Result<&'a Device, CliError> {
    let wanted = wanted.trim();
    if let Some(d) = list
        .iter()
        .find(|d| d.id.to_string() == wanted.to_lowercase())
    {
        return Ok(d);
    }
    let key = wanted.to_lowercase();
    let named: Vec<&Device> = list
        .iter()
        .filter(|d| d.name.trim().to_lowercase() == key)
        .collect();
    let live: Vec<&Device> = named
        .iter()
        .copied()
        .filter(|d| matches!(d.status, DeviceStatus::Pending | DeviceStatus::Trusted))
        .collect();
    match (live.as_slice(), named.as_slice()) {
        ([d], _) | ([], [d]) => Ok(d),
        _ if named.is_empty() => Err(CliError::with_kind(
            2,
            "unknown_device",
            format!("no device \"{wanted}\" (`vouch devices` lists them)"),
        )),
        _ => Err(CliError::with_kind(
            2,
            "ambiguous_device",
            format!("more than one device is called \"{wanted}\"; use its id"),
        )),
    }
}

/// A device as JSON: the server's fields and `this_device`.
pub fn device_json(d: &Device, this: Option<uuid::Uuid>) -> Value {
    let mut v = output::device_json(d);
    if let Some(o) = v.as_object_mut() {
        o.insert("this_device".into(), Value::Bool(Some(d.id) == this));
    }
    v
}

pub fn devices_json(list: &[Device], this: Option<uuid::Uuid>) -> Value {
    Value::Array(list.iter().map(|d| device_json(d, this)).collect())
}

fn day_time(t: &time::OffsetDateTime) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    t.to_offset(time::UtcOffset::UTC)
        .format(f)
        .unwrap_or_default()
}

/// How a device was verified, in words (rule 6: each device shows which device approved it).
fn verified_human(d: &Device, list: &[Device]) -> String {
    let name_of = |id: uuid::Uuid| {
        list.iter()
            .find(|o| o.id == id)
            .map_or_else(|| id.to_string(), |o| format!("\"{}\"", o.name))
    };
    match (d.verified_by, d.approved_by) {
        (Some(VerifiedBy::Approval), Some(by)) => format!("approved by {}", name_of(by)),
        (Some(VerifiedBy::EmailCode), Some(by)) => {
            format!("verified by email code, keys shared by {}", name_of(by))
        }
        (Some(VerifiedBy::EmailCode), None) => "verified by email code".into(),
        (Some(VerifiedBy::Approval), None) => "approved".into(),
        (None, _) => "not verified".into(),
    }
}

/// This user's devices, two lines each; this device is marked.
pub fn devices_human(list: &[Device], this: Option<uuid::Uuid>) -> String {
    if list.is_empty() {
        return "no devices".into();
    }
    list.iter()
        .map(|d| {
            let tier = match d.tier {
                Some(Tier::KeyHolder) => ", key holder",
                Some(Tier::EmailOnly) => ", email-only",
                None => "",
            };
            let mark = if Some(d.id) == this { "* " } else { "  " };
            let this_device = if Some(d.id) == this {
                "  (this device)"
            } else {
                ""
            };
            let seen = d
                .last_seen_at
                .as_ref()
                .map_or_else(|| "never".to_owned(), day_time);
            format!(
                "{mark}{}{this_device}  [{}, {}{tier}]\n    {}  {}; created {}, last seen {}; {}",
                d.name,
                enum_name(&d.status),
                enum_name(&d.kind),
                d.id,
                d.platform,
                day_time(&d.created_at),
                seen,
                verified_human(d, list),
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

// ---- vaults by name ------------------------------------------------------------------------

/// Resolves a vault command's vault (a name, compared without case, or an id) on this
/// device, and refuses a `create` whose name one of the user's vaults already has.
/// An id is taken as it is; a name this device does not know yet is looked up again after
/// a sync (a freshly approved device has not fetched its vaults).
pub async fn vault_action(client: &Client, cmd: VaultCommand) -> Result<VaultAction, CliError> {
    let vault = match &cmd {
        VaultCommand::Items { vault }
        | VaultCommand::Put { vault, .. }
        | VaultCommand::Get { vault, .. }
        | VaultCommand::Delete { vault, .. } => Some(vault.clone()),
        VaultCommand::Create { .. } | VaultCommand::List => None,
    };
    let vault_id = match vault {
        None => uuid::Uuid::nil(),
        Some(v) => match uuid::Uuid::parse_str(v.trim()) {
            Ok(id) => id,
            Err(_) => match client.find_vault(&v) {
                Ok(found) => found.id,
                Err(_) => {
                    let _ = client.sync().await;
                    client.find_vault(&v)?.id
                }
            },
        },
    };
    let id = |_: &str| Ok::<_, CliError>(vault_id);
    // An item by id, or by title (decrypted here; errors never repeat a title).
    let item = |item: &str| -> Result<uuid::Uuid, CliError> {
        match uuid::Uuid::parse_str(item.trim()) {
            Ok(id) => Ok(id),
            Err(_) => Ok(client.find_item(vault_id, item)?.item_id),
        }
    };
    Ok(match cmd {
        VaultCommand::Create { name } => {
            if client.vault_name_taken(&name)? {
                return Err(CliError::with_kind(
                    2,
                    "vault_name_taken",
                    format!("you already have a vault called \"{}\"", name.trim()),
                ));
            }
            VaultAction::Create { name }
        }
        VaultCommand::List => VaultAction::List,
        VaultCommand::Items { vault } => VaultAction::Items {
            vault_id: id(&vault)?,
        },
        VaultCommand::Put {
            vault,
            item: target,
            title,
            value,
            file,
        } => {
            let vault_id = id(&vault)?;
            let target = target.as_deref().map(item).transpose()?;
            if let Some(t) = &title
                && client.item_title_taken(vault_id, t, target)?
            {
                return Err(CliError::with_kind(
                    2,
                    "item_title_taken",
                    "another item of this vault has this title: change that one with \
                     `--item TITLE`, or choose another title",
                ));
            }
            VaultAction::Put {
                vault_id,
                item: target,
                title,
                value,
                file,
            }
        }
        VaultCommand::Get {
            vault,
            item: target,
        } => VaultAction::Get {
            vault_id: id(&vault)?,
            item_id: item(&target)?,
        },
        VaultCommand::Delete {
            vault,
            item: Some(target),
            ..
        } => VaultAction::Delete {
            vault_id: id(&vault)?,
            item_id: item(&target)?,
        },
        VaultCommand::Delete {
            vault,
            item: None,
            yes,
        } => VaultAction::DeleteVault {
            vault_id: id(&vault)?,
            yes,
        },
    })
}

// ---- sign-out and profiles ------------------------------------------------------------------

/// `vouch sign-out`: ends the session on this device and deletes the profile's local data
/// and keys, after saying exactly what is lost. A trusted device signs itself out on the
/// server first (disabled there: its name and slot are freed, other devices see it gone).
pub async fn sign_out(
    dir: &Path,
    server: Option<&str>,
    out: &Out,
    yes: bool,
) -> Result<(), CliError> {
    if saved_settings(dir).is_none() {
        return Err(CliError::usage(format!(
            "no such profile: {} (nothing to sign out of)",
            dir.display()
        )));
    }
    let client = profile::open(dir, server, None, false)?;
    let state = client.state();
    let who = state
        .user()
        .map_or_else(|| "this profile".to_owned(), |u| u.email.clone());
    let mut lost = vec![format!(
        "the profile {} (this device's identity and sign-in)",
        dir.display()
    )];
    if let EnrollmentState::Trusted { device_name, .. } = &state {
        let vaults = client.vaults().unwrap_or_default();
        let keys = vaults.iter().filter(|v| v.has_key).count();
        let items: usize = vaults
            .iter()
            .map(|v| client.list_items(v.id).map(|i| i.len()).unwrap_or(0))
            .sum();
        if keys > 0 {
            lost.push(format!(
                "the keys of {keys} vault(s) held here — vault keys live only on trusted devices: if no other device of yours holds them, those vaults can never be read again"
            ));
        }
        if items > 0 {
            lost.push(format!("{items} item(s) stored on this device"));
        }
        let queued = client.queued_operations().unwrap_or(0);
        if queued > 0 {
            lost.push(format!(
                "{queued} write(s) not yet sent to the server (run `vouch sync` first to keep them)"
            ));
        }
        lost.push(format!(
            "the trusted device \"{device_name}\": it is disabled on the server (to use this computer again, sign in and set it up anew)"
        ));
    }
    let question = format!(
        "Sign out {who} on this device? This deletes {}.\nContinue?",
        lost.join(";\n  ")
    );
    confirm(&question, yes)?;
    let disabled_on_server = match client.sign_out().await {
        Ok(told) => told,
        Err(e) => {
            let e = CliError::from(e);
            if e.code != 3 && e.code != 7 {
                return Err(e);
            }
            eprintln!(
                "warning: the server could not be told ({}); disable this device from another one",
                e.message
            );
            false
        }
    };
    drop(client);
    remove_profile(dir)?;
    out.emit(
        json!({"signed_out": true, "profile": dir.display().to_string(),
            "user": state.user().map(|u| u.email.clone()), "disabled_on_server": disabled_on_server}),
        || format!("Signed out {who}; {} was deleted.", dir.display()),
    );
    Ok(())
}

/// Deletes a profile directory: only one that is a profile (it has `cli.json`).
fn remove_profile(dir: &Path) -> Result<(), CliError> {
    if !dir.join("cli.json").is_file() {
        return Err(CliError::other(format!(
            "{} does not look like a profile; nothing deleted",
            dir.display()
        )));
    }
    std::fs::remove_dir_all(dir)
        .map_err(|e| CliError::other(format!("cannot delete {}: {e}", dir.display())))
}

/// `vouch profiles`: the profile directories under the default data directory (and the
/// current one, if it lives elsewhere), with their server, user and state.
pub fn profiles(current: &Path, out: &Out) -> Result<(), CliError> {
    let home = profile::default_dir()
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&home)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.join("cli.json").is_file())
                .collect()
        })
        .unwrap_or_default();
    if current.join("cli.json").is_file() && !dirs.iter().any(|d| same_dir(d, current)) {
        dirs.push(current.to_path_buf());
    }
    dirs.sort();
    let rows: Vec<Value> = dirs.iter().map(|d| profile_row(d, current)).collect();
    out.emit(Value::Array(rows.clone()), || {
        if rows.is_empty() {
            return format!(
                "no profiles under {} (`vouch sign-in` makes one)",
                home.display()
            );
        }
        rows.iter()
            .map(|r| {
                format!(
                    "{}{}  {}  {}  {}",
                    if r["current"] == true { "* " } else { "  " },
                    r["path"].as_str().unwrap_or_default(),
                    r["server"].as_str().unwrap_or("-"),
                    r["user"].as_str().unwrap_or("-"),
                    r["state"].as_str().unwrap_or("-"),
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok(())
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

fn profile_row(dir: &Path, current: &Path) -> Value {
    let settings = saved_settings(dir);
    let (user, state) = match profile::open(dir, None, None, false) {
        Ok(c) => {
            let s = c.state();
            (s.user().map(|u| u.email.clone()), s.name().to_owned())
        }
        Err(e) => (None, format!("unreadable: {}", e.message)),
    };
    json!({
        "name": dir.file_name().map(|n| n.to_string_lossy().into_owned()),
        "path": dir.display().to_string(),
        "server": settings.map(|s| s.server),
        "user": user,
        "state": state,
        "current": same_dir(dir, current),
    })
}

#[cfg(test)]
mod tests {
    /// The password prompt names the account and the server (given, saved or default).
    #[test]
    fn the_password_prompt_names_account_and_server() {
        let dir = std::path::Path::new("/nonexistent/profile");
        assert_eq!(
            super::password_prompt("alice@acme.test", dir, Some("https://vouch.example")),
            "password for alice@acme.test at https://vouch.example: "
        );
        assert_eq!(
            super::password_prompt("alice@acme.test", dir, None),
            format!(
                "password for alice@acme.test at {}: ",
                crate::profile::DEFAULT_SERVER
            )
        );
    }

    /// `devices disable NAME` on a key holder finds the device by the name it was vouched
    /// under on the chain, not by the server's list: a server that swapped two names does
    /// not turn the revocation onto the other device (black-box review, stop 16, B-F7).
    #[test]
    fn a_key_holder_is_found_by_its_name_on_the_chain() {
        use vouch_core::proto::{Bytes, Device, DeviceKind, DeviceStatus};
        let (mini, desktop) = (uuid::Uuid::from_u128(1), uuid::Uuid::from_u128(2));
        let device = |id, name: &str| Device {
            id,
            user_id: uuid::Uuid::nil(),
            name: name.into(),
            kind: DeviceKind::Web,
            platform: String::new(),
            status: DeviceStatus::Trusted,
            key_bundle: Bytes(Vec::new()),
            created_at: time::OffsetDateTime::UNIX_EPOCH,
            verified_at: None,
            verified_by: None,
            tier: None,
            approved_by: None,
            origin: String::new(),
            last_seen_at: None,
        };
        // The server swapped the names.
        let list = [device(mini, "Alice Desktop"), device(desktop, "Alice Mini")];
        let member = |id, name: &str| vouch_core::ChainMember {
            id,
            role: vouch_core::chain::Role::Device,
            added_at: 1,
            vouched_by: None,
            revoked_at: None,
            this_device: false,
            name: Some(name.into()),
        };
        let members = [member(mini, "Alice Mini"), member(desktop, "Alice Desktop")];
        let found = super::find_on_chain(&members, &list, " alice mini ").unwrap();
        assert_eq!(found.map(|d| d.id), Some(mini));
        assert!(
            super::find_on_chain(&members, &list, "Laptop")
                .unwrap()
                .is_none()
        );
        assert_eq!(super::find_device(&list, "Alice Mini").unwrap().id, desktop);
        // The signed name of a revoked key holder only: "already revoked", never the
        // server's device of that name (re-review N6).
        let mut old = member(uuid::Uuid::from_u128(3), "Alice Old");
        old.revoked_at = Some(4);
        let members = [members[0].clone(), members[1].clone(), old];
        let list = [list[0].clone(), device(desktop, "Alice Old")];
        let e = super::find_on_chain(&members, &list, "alice old").unwrap_err();
        assert_eq!(e.code, 5, "{}", e.message);
        // A name cannot close its quotes to imitate the annotations (re-review N2).
        assert_eq!(
            crate::output::quoted(r#"tab" (the server now calls it "x"#),
            r#""tab\" (the server now calls it \"x""#
        );
    }
}
