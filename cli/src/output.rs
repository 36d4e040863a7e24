//! Human-readable output by default, JSON with `--json` (one document per command).

use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use vouch_core::{ApprovalPrompt, EnrollmentState, PendingRequest, VaultInfo, proto::Device};

/// Where results go.
pub struct Out {
    pub json: bool,
}

impl Out {
    /// Prints `value` as JSON, or `human` as text.
    pub fn emit(&self, value: Value, human: impl FnOnce() -> String) {
        if self.json {
            line(&value.to_string());
        } else {
            let text = human();
            if !text.is_empty() {
                line(&text);
            }
        }
    }
}

/// Writes one line to stdout. A reader that went away (`vouch status | head -0`) ends the
/// command quietly with status 0, as other Unix tools do, instead of a panic.
pub fn line(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{text}").and_then(|()| out.flush())
        && e.kind() == std::io::ErrorKind::BrokenPipe
    {
        std::process::exit(0);
    }
}

/// A name in quotes, its own quotes and backslashes escaped: a device name cannot close
/// the quotes and imitate the annotations beside it (re-review N2).
pub fn quoted(name: &str) -> String {
    format!("\"{}\"", name.escape_debug())
}

pub fn ts(t: &time::OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

pub fn state_json(s: &EnrollmentState) -> Value {
    serde_json::to_value(s).unwrap_or(Value::Null)
}

pub fn state_line(s: &EnrollmentState) -> String {
    match s {
        EnrollmentState::SignedOut => "signed out".into(),
        EnrollmentState::Untrusted {
            user,
            reminded_later,
        } => format!(
            "signed in as {} — this session is NOT SECURE: no vault access{}",
            user.email,
            if *reminded_later {
                " (setup postponed; run `vouch setup`)"
            } else {
                ""
            }
        ),
        EnrollmentState::Verifying {
            user,
            device_name,
            verification,
            ..
        } => {
            let how = match verification {
                vouch_core::Verification::NotStarted => "choose email code or approval".to_owned(),
                vouch_core::Verification::EmailCode { expires_at, .. } => {
                    format!("email code sent, expires {}", ts(expires_at))
                }
                vouch_core::Verification::Approval { expires_at, .. } => {
                    format!("waiting for approval until {}", ts(expires_at))
                }
            };
            format!(
                "{}: \"{device_name}\" is being verified ({how})",
                user.email
            )
        }
        EnrollmentState::Trusted {
            user,
            device_name,
            verified_by,
            tier,
            ..
        } => {
            let tier = match tier {
                vouch_core::proto::Tier::KeyHolder => "key holder",
                vouch_core::proto::Tier::EmailOnly => {
                    "email-only: no vault keys; ask a key holder with `vouch request-keys`"
                }
            };
            format!(
                "{}: \"{device_name}\" is TRUSTED (verified by {}; {tier})",
                user.email,
                vouch_core::proto::enum_name(verified_by)
            )
        }
        EnrollmentState::Denied { user } => format!("{}: this device was denied", user.email),
        EnrollmentState::Expired { user } => format!(
            "{}: the verification expired; run `vouch register` again",
            user.email
        ),
        EnrollmentState::Wiped => "this device was disabled; its keys and items were wiped".into(),
    }
}

/// Writes `bytes` to stdout exactly (an item's value: no newline, no re-encoding).
pub fn bytes(bytes: &[u8]) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(bytes).and_then(|()| out.flush())
        && e.kind() == std::io::ErrorKind::BrokenPipe
    {
        std::process::exit(0);
    }
}

/// A QR code for the terminal (two rows of modules per text line), with its quiet zone.
/// On a terminal it is drawn in explicit colours — black modules on a white ground — so
/// it scans on light and dark themes alike; into a pipe or file, dark modules are the
/// block characters (as printed on paper).
pub fn qr(text: &str) -> String {
    use std::io::IsTerminal;
    qr_for(text, std::io::stdout().is_terminal())
}

fn qr_for(text: &str, terminal: bool) -> String {
    use qrcode::{QrCode, render::unicode::Dense1x2};
    let Ok(code) = QrCode::new(text.as_bytes()) else {
        return String::new();
    };
    let drawn = code
        .render::<Dense1x2>()
        .dark_color(Dense1x2::Dark)
        .light_color(Dense1x2::Light)
        .quiet_zone(true)
        .build();
    if !terminal {
        return drawn;
    }
    // Black foreground on a bright white background, reset at the end of every line.
    drawn
        .lines()
        .map(|l| format!("\x1b[30;107m{l}\x1b[0m"))
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn prompt_json(p: &ApprovalPrompt) -> Value {
    json!({
        "request_id": p.request_id, "purpose": vouch_core::proto::enum_name(&p.purpose),
        "code": p.code, "qr_payload": p.qr_payload, "expires_at": ts(&p.expires_at),
        "runs_left": p.runs_left,
    })
}

pub fn prompt_human(p: &ApprovalPrompt) -> String {
    let how = if p.purpose == vouch_core::proto::ApprovalPurpose::NewRoot {
        "No device of yours holds the keys any more: an admin of your workspace approves this\none. Reach an admin yourself (never one who contacts you) and read them this code:"
    } else {
        "On a device that holds your keys, open \"Trust this session?\" for this device and enter\nthe code (apps can scan the QR code instead):"
    };
    format!(
        "{how}\n\n    {}\n\n{}\nrequest {}; the code works until {} and for {} more tr{}",
        p.code,
        qr(&p.qr_payload),
        p.request_id,
        ts(&p.expires_at),
        p.runs_left,
        if p.runs_left == 1 { "y" } else { "ies" },
    )
}

pub fn pending_json(p: &PendingRequest) -> Value {
    json!({
        "request_id": p.request_id, "purpose": vouch_core::proto::enum_name(&p.purpose),
        "account": p.account, "device_name": p.device_name, "device_kind": vouch_core::proto::enum_name(&p.device_kind),
        "platform": p.platform, "origin": p.origin, "created_at": ts(&p.created_at),
        "expires_at": ts(&p.expires_at),
        "requester_tier": p.requester_tier.map(|t| vouch_core::proto::enum_name(&t)),
        "other_network": p.other_network, "status": vouch_core::proto::enum_name(&p.status),
    })
}

/// The "Trust this session?" screen: who asks, from where, its flags, and the warning.
pub fn pending_human(p: &PendingRequest) -> String {
    let mut flags = String::new();
    if p.purpose == vouch_core::proto::ApprovalPurpose::NewRoot {
        flags.push_str(&format!(
            "\n  ⚠ ANOTHER PERSON'S ACCOUNT: approving makes this device the first key holder of {}",
            p.account
        ));
    }
    if p.requester_tier == Some(vouch_core::proto::Tier::EmailOnly) {
        flags.push_str("\n  ⚠ this device was verified by email only");
    }
    if p.other_network {
        flags.push_str("\n  ⚠ it asks from another network than this device");
    }
    if p.status == vouch_core::proto::ApprovalStatus::Approved {
        flags.push_str("\n  approved — waiting for the device");
    }
    format!(
        "Trust this session?  [{}]\n  device:   {} ({}, {})\n  from:     {}\n  asked at: {}   expires: {}{flags}\n  approve:  vouch approve {}",
        vouch_core::proto::enum_name(&p.purpose),
        p.device_name,
        vouch_core::proto::enum_name(&p.device_kind),
        p.platform,
        p.origin,
        ts(&p.created_at),
        ts(&p.expires_at),
        p.request_id
    )
}

pub fn device_json(d: &Device) -> Value {
    serde_json::to_value(d).unwrap_or(Value::Null)
}

pub fn vault_json(v: &VaultInfo) -> Value {
    json!({"id": v.id, "name": v.name, "has_key": v.has_key})
}

#[cfg(test)]
mod tests {
    /// The dark modules are the drawn ones, and the colours are explicit on a terminal
    /// (the code used to be drawn inverted: it scanned on dark themes only).
    #[test]
    fn the_qr_code_is_dark_on_light() {
        let plain = super::qr_for("VOUCH2:test", false);
        // The finder pattern's top-left corner (after the 4-module quiet zone) is dark:
        // the first drawn line past the quiet zone starts with spaces, then full blocks.
        let row = plain.lines().nth(2).unwrap();
        assert!(row.starts_with("    "), "{row:?}");
        assert!(row.chars().nth(4).is_some_and(|c| c != ' '), "{row:?}");
        let coloured = super::qr_for("VOUCH2:test", true);
        assert!(
            coloured
                .lines()
                .all(|l| l.starts_with("\x1b[30;107m") && l.ends_with("\x1b[0m"))
        );
    }

    /// An admin's `new_root` screen names the other person's account (black-box review,
    /// stop 16: it showed only the device name the requester chose).
    #[test]
    fn a_new_root_request_names_the_other_persons_account() {
        use vouch_core::proto::{ApprovalPurpose, ApprovalStatus, DeviceKind, Tier};
        let mut p = vouch_core::PendingRequest {
            request_id: uuid::Uuid::nil(),
            purpose: ApprovalPurpose::Enroll,
            account: "carol@acme.test".into(),
            device_name: "carol new phone".into(),
            device_kind: DeviceKind::Mobile,
            platform: "Android".into(),
            origin: "10.0.0.7".into(),
            created_at: time::OffsetDateTime::UNIX_EPOCH,
            expires_at: time::OffsetDateTime::UNIX_EPOCH,
            requester_tier: Some(Tier::EmailOnly),
            other_network: false,
            status: ApprovalStatus::Pending,
        };
        assert!(!super::pending_human(&p).contains("ANOTHER PERSON"));
        p.purpose = ApprovalPurpose::NewRoot;
        let screen = super::pending_human(&p);
        assert!(
            screen.contains("ANOTHER PERSON'S ACCOUNT") && screen.contains("carol@acme.test"),
            "{screen}"
        );
        assert!(vouch_core::approver_warning(p.purpose).contains("another person"));
        assert_eq!(super::pending_json(&p)["account"], "carol@acme.test");
    }
}
