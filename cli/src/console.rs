//! `vouch console …`: the web console's sign-ins, from a key holder. A browser signed in
//! at `SERVER/console` shows a 6-digit code; `vouch console approve CODE` shows which
//! browser asks (user agent, address, time) and approves it after a confirmation.

use serde_json::{Value, json};
use vouch_core::{
    Client,
    proto::{ConsoleSession, ConsoleStatus, enum_name},
};

use crate::{
    CliError, ConsoleAction,
    manage::confirm,
    output::{Out, ts},
};

fn session_json(s: &ConsoleSession) -> Value {
    json!({
        "id": s.id,
        "status": enum_name(&s.status),
        "user_agent": s.user_agent,
        "origin": s.origin,
        "created_at": ts(&s.created_at),
        "expires_at": ts(&s.expires_at),
        "approved_by": s.approved_by,
        "admin": s.admin,
        "other_network": s.other_network,
    })
}

fn session_human(s: &ConsoleSession) -> String {
    let status = match s.status {
        ConsoleStatus::Pending => "waiting for approval",
        ConsoleStatus::Active if s.admin => "active (admin)",
        ConsoleStatus::Active => "active",
    };
    let flag = if s.other_network {
        "  (another network than this device's: not your browser unless you are elsewhere)"
    } else {
        ""
    };
    format!(
        "{}  {status}\n  browser: {}\n  address: {}{flag}\n  signed in: {}, ends: {}",
        s.id,
        s.user_agent,
        s.origin,
        ts(&s.created_at),
        ts(&s.expires_at)
    )
}

/// A refused console code says what it means for the console (exit 5, as other codes).
fn approve_error(e: vouch_core::Error) -> CliError {
    use vouch_core::proto::ErrorCode;
    let (kind, message) = match &e {
        vouch_core::Error::Server {
            code: ErrorCode::InvalidCode,
            attempts_left,
            ..
        } => (
            "invalid_code",
            format!(
                "wrong code: {} attempt(s) left",
                attempts_left.unwrap_or_default()
            ),
        ),
        vouch_core::Error::Server {
            code: ErrorCode::CodeExpired,
            ..
        } => (
            "code_expired",
            "too many wrong codes: that console sign-in was ended; sign in again in the browser"
                .to_owned(),
        ),
        vouch_core::Error::Server {
            code: ErrorCode::RequestExpired,
            ..
        } => (
            "request_expired",
            "that console sign-in expired; sign in again in the browser".to_owned(),
        ),
        _ => return e.into(),
    };
    CliError::with_kind(5, kind, message)
}

/// `vouch console [list | approve CODE | revoke ID]`.
pub async fn run(client: &Client, out: &Out, action: ConsoleAction) -> Result<(), CliError> {
    match action {
        ConsoleAction::List => {
            let list = client.console_sessions().await?;
            out.emit(
                json!(list.iter().map(session_json).collect::<Vec<_>>()),
                || {
                    if list.is_empty() {
                        "No console sessions.".into()
                    } else {
                        list.iter()
                            .map(session_human)
                            .collect::<Vec<_>>()
                            .join("\n")
                    }
                },
            );
            Ok(())
        }
        ConsoleAction::Approve { code, id, yes } => {
            let list = client.console_sessions().await?;
            let pending: Vec<&ConsoleSession> = list
                .iter()
                .filter(|s| s.status == ConsoleStatus::Pending)
                .filter(|s| id.is_none_or(|i| i == s.id))
                .collect();
            let s = match pending.as_slice() {
                [] => {
                    return Err(CliError::with_kind(
                        6,
                        "no_console_waiting",
                        format!(
                            "no console sign-in of yours is waiting for approval: sign in at {}/console first",
                            client.server_url().trim_end_matches('/')
                        ),
                    ));
                }
                [one] => *one,
                many => {
                    // The list first (an error is one line, the last one).
                    for s in many {
                        eprintln!("{}", session_human(s));
                    }
                    return Err(CliError::with_kind(
                        2,
                        "several_consoles_waiting",
                        format!(
                            "{} console sign-ins are waiting (listed above): add the --id ID your browser's page shows",
                            many.len()
                        ),
                    )
                    .with_details(serde_json::json!({
                        "waiting": many.iter().map(|s| serde_json::json!({
                            "id": s.id,
                            "browser": s.user_agent,
                            "address": s.origin,
                            "other_network": s.other_network,
                        })).collect::<Vec<_>>()
                    })));
                }
            };
            let question = format!(
                "Approve this web console?\n  browser: {}\n  address: {}{}\n  signed in: {}\nIt can see and rename your devices and disable those verified by email only (never your key holders){} for up to 8 hours, and receives no vault key.\nApprove only a browser you are using now: nobody from Vouch or your company will ever ask you for this code.\nApprove?",
                s.user_agent,
                s.origin,
                if s.other_network {
                    " — ANOTHER NETWORK than this device's"
                } else {
                    ""
                },
                ts(&s.created_at),
                if client
                    .state()
                    .user()
                    .is_some_and(|u| u.role == vouch_core::proto::Role::Admin)
                {
                    ", and as an admin's: deprovision users and disable any device of the workspace"
                } else {
                    ""
                }
            );
            if !out.json {
                eprintln!("{}", session_human(s));
            }
            confirm(&question, yes)?;
            let approved = client
                .approve_console(s.id, &code)
                .await
                .map_err(approve_error)?;
            out.emit(session_json(&approved), || {
                "Approved: the browser moves on within a few seconds (if it does not within a minute, sign in there again).".into()
            });
            Ok(())
        }
        ConsoleAction::Revoke { id } => {
            client.revoke_console(id).await?;
            out.emit(json!({"id": id, "status": "ended"}), || {
                "The console session was ended.".into()
            });
            Ok(())
        }
    }
}
