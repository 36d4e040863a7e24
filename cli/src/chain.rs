//! `vouch chain`: the user's key holders as this device verified them on the vouch chain,
//! each by the name it was vouched under (signed on the chain); the server's name is shown
//! beside it only where it differs, or for links that name no device.

use serde_json::{Value, json};
use vouch_core::{ChainMember, Client, chain::Role, proto::Device};

use crate::{
    CliError,
    output::{Out, quoted},
};

/// Fetches and verifies the chain, then prints who holds the vault keys: each member with
/// the device that vouched for it, revoked members marked.
pub async fn chain(client: &Client, out: &Out) -> Result<(), CliError> {
    let members = client.chain_members().await?;
    // An email-only device is on no chain: it shows the list as the server serves it,
    // checked from its root but anchored in nothing this device vouched for.
    if !client.state().is_key_holder() && !members.is_empty() {
        eprintln!(
            "note: this device is email-only: the list below is checked from its root, but \
             this device is not on it, so nothing anchors it (`vouch request-keys` asks a \
             key holder)"
        );
    }
    // Names and kinds are the server's word: shown to help the person, never trusted.
    let devices = client.devices().await.unwrap_or_default();
    out.emit(members_json(&members, &devices), || {
        members_human(&members, &devices)
    });
    Ok(())
}

fn name_of(devices: &[Device], id: uuid::Uuid) -> String {
    devices
        .iter()
        .find(|d| d.id == id)
        .map_or_else(|| id.to_string(), |d| quoted(&d.name))
}

/// A member by the name it was vouched under (the chain's, signed), with the server's
/// name beside it when that differs; the server's alone for a link that names none.
fn member_name(members: &[ChainMember], devices: &[Device], id: uuid::Uuid) -> String {
    let server = devices.iter().find(|d| d.id == id).map(|d| d.name.as_str());
    match (
        members
            .iter()
            .find(|m| m.id == id)
            .and_then(|m| m.name.as_deref()),
        server,
    ) {
        (Some(signed), Some(s)) if s != signed => {
            format!("{} (the server now calls it {})", quoted(signed), quoted(s))
        }
        (Some(signed), _) => quoted(signed),
        (None, _) => name_of(devices, id),
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Device => "device",
        Role::RecoveryKey => "recovery key",
    }
}

fn members_json(members: &[ChainMember], devices: &[Device]) -> Value {
    Value::Array(
        members
            .iter()
            .map(|m| {
                json!({
                    "id": m.id,
                    "name": devices.iter().find(|d| d.id == m.id).map(|d| d.name.clone()),
                    "vouched_as": m.name,
                    "role": role_name(m.role),
                    "added_at_link": m.added_at,
                    "vouched_by": m.vouched_by,
                    "revoked_at_link": m.revoked_at,
                    "this_device": m.this_device,
                })
            })
            .collect(),
    )
}

fn members_human(members: &[ChainMember], devices: &[Device]) -> String {
    if members.is_empty() {
        return "no vouch chain yet: the first key holder starts it".into();
    }
    let mut out = vec![format!(
        "Key holders on the verified vouch chain ({} link(s) checked on this device):",
        members.len() + members.iter().filter(|m| m.revoked_at.is_some()).count()
    )];
    for m in members {
        let mark = if m.this_device { "* " } else { "  " };
        let by = match m.vouched_by {
            None => "started the chain".to_owned(),
            Some(v) => format!("vouched for by {}", member_name(members, devices, v)),
        };
        // A vouch whose approval never completed (the server lists the device as still
        // waiting): nothing is sealed to it (re-review N3).
        let waiting = devices
            .iter()
            .any(|d| d.id == m.id && d.status == vouch_core::proto::DeviceStatus::Pending);
        let status = match m.revoked_at {
            Some(at) => format!("REVOKED at link {at}"),
            None if waiting => {
                "key holder, APPROVAL NOT COMPLETED: nothing is sealed to it".to_owned()
            }
            None => "key holder".to_owned(),
        };
        let this = if m.this_device { "  (this device)" } else { "" };
        out.push(format!(
            "{mark}{}{this}  [{}, {status}]\n    {}  link {}; {by}",
            member_name(members, devices, m.id),
            role_name(m.role),
            m.id,
            m.added_at,
        ));
    }
    out.join("\n")
}
