//! Console sessions (issue 17): the delegated session of a key holder a browser gets.
//!
//! A browser signs in with email and password (the API's sign-in and its throttle) and
//! gets a *pending* session: a random token in an `HttpOnly` cookie, and a 6-digit code
//! derived from that token, shown on the page. The token is the secret only the browser
//! that typed the password holds; the session's id (which key holders, pushes and the
//! audit log see) opens nothing. At most [`MAX_PENDING_PER_ADDRESS`] sign-ins of a user wait
//! from one network address (a further one is refused, never an older one dropped; no cap
//! per user, which others could fill); sign-ins are throttled like the API's approval
//! requests per network address, and the prompts pushed to the key holders per user. A key-holder web or mobile device of the
//! same user approves the session with the code (`POST /v1/console-sessions/{id}/approve`);
//! a wrong code counts against that session only, and the third wrong one ends it. An
//! approved session acts with the approving device's powers — its rules, never its keys —
//! and ends after 30 idle minutes, 8 hours after approval, when revoked, or as soon as
//! the approving device is no longer a trusted key holder. Only hashes of the token and
//! the code are stored.
//!
//! Approval rotates the token: the approving device's call turns the stored hash into
//! an *approved marker* of the pending token, which works exactly once — the browser's
//! next request with the pending token gets a new token (a new cookie) and the pending
//! one is dead from then on ([`rotate`]). A pending token someone else knew or planted
//! gives nothing after the approval.

use crate::store::{Row, StoreResult, Tx, params};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;
use vouch_proto::{
    APPROVAL_WINDOW_SECS, AuditAction, CONSOLE_CODE_ATTEMPTS, CONSOLE_IDLE_SECS, CONSOLE_MAX_SECS,
    CONSOLE_PENDING_SECS, ConsoleSession, ConsoleStatus, DeviceStatus, ErrorCode, Event, Tier,
};

use crate::{
    audit::Actor,
    auth::DeviceCaller,
    error::{ApiError, ApiResult},
    model::{
        DeviceRow, UserRow, enum_str, new_token, now, parse_enum, parse_uuid, push_event_to_user,
        token_hash, ts,
    },
};

/// The session cookie's name on a loopback server (path `/console`, not `Secure`).
pub const COOKIE: &str = "vouch_console";
/// The cookie of a browser that has not signed in yet (it keys the sign-in form's CSRF
/// token), on a loopback server.
pub const PRE_COOKIE: &str = "vouch_console_pre";
/// The prefix of both names when cookies are `Secure` (off loopback, or
/// `--console-secure-cookies`): the browser then takes the cookie only from an HTTPS
/// answer of this very host, with `Path=/` and no `Domain`, so neither a sibling domain
/// nor a plain-HTTP answer can plant one.
pub const SECURE_PREFIX: &str = "__Host-";
/// Prefix of console tokens.
const TOKEN_PREFIX: &str = "vcs_";
/// Pending console sign-ins of a user from one network address (an IPv6 /64 counts as one)
/// at once: a further one from there is refused until one is approved, ended or expires
/// (waiting sign-ins are never dropped to make room). There is no cap per user: a cap
/// others fill kept the user out (second outside review); what someone else with the
/// password can open is bounded by the addresses it has, and never blocks hers.
pub const MAX_PENDING_PER_ADDRESS: usize = 2;

/// The network a client address belongs to for the console's limits: an IPv4 address
/// itself, an IPv6 address's /64 (one host usually has a whole /64).
fn network_of(origin: &str) -> String {
    match origin.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        _ => origin.to_owned(),
    }
}
/// Longest `User-Agent` text kept (approvers are shown it).
const USER_AGENT_MAX_CHARS: usize = 160;

/// A console token as the browser holds it; `Debug` never prints it.
#[derive(Clone)]
pub struct Token(pub String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(..)")
    }
}

fn digest(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    h.finalize().into()
}

/// The 6-digit code of a session, derived from its token (so it is never stored: the page
/// shows it again from the cookie). 2^64 mod 10^6 makes the bias negligible.
pub fn code_for(token: &Token) -> String {
    let d = digest(&[b"vouch/console/code", token.0.as_bytes()]);
    let mut first = [0u8; 8];
    first.copy_from_slice(&d[..8]);
    format!("{:06}", u64::from_be_bytes(first) % 1_000_000)
}

/// "482 913": the code as the page shows it.
pub fn grouped(code: &str) -> String {
    format!("{} {}", &code[..3], &code[3..])
}

/// What the stored token hash of a pending session becomes when it is approved: only
/// the pending token leads to it, and only until [`rotate`] replaces it.
fn approved_marker(pending_hash: &[u8]) -> Vec<u8> {
    digest(&[b"vouch/console/approved", pending_hash]).to_vec()
}

/// The stored form of a session's code: bound to the session's id.
fn code_hash(id: Uuid, code: &str) -> Vec<u8> {
    digest(&[b"vouch/console/code-hash", id.as_bytes(), code.as_bytes()]).to_vec()
}

/// The CSRF token of forms posted with a cookie secret (the session token, or the
/// pre-sign-in cookie): a keyed hash of it, so the page can carry it and only a page the
/// server rendered for this cookie knows it.
pub fn csrf_for(secret: &str) -> String {
    vouch_proto::Bytes(digest(&[b"vouch/console/csrf", secret.as_bytes()]).to_vec()).to_b64()
}

/// Whether a posted CSRF token is the one of `secret` (constant time).
pub fn csrf_ok(secret: &str, given: &str) -> bool {
    let want = csrf_for(secret);
    want.len() == given.len() && bool::from(want.as_bytes().ct_eq(given.as_bytes()))
}

/// A stored console session.
#[derive(Debug, Clone)]
pub struct SessionRow {
    /// Session id.
    pub id: Uuid,
    /// Whose.
    pub user_id: Uuid,
    /// Pending or active.
    pub status: ConsoleStatus,
    code_failures: u32,
    /// Approved by an admin's key holder (the admin pages need it).
    pub admin: bool,
    /// The browser's `User-Agent`.
    pub user_agent: String,
    /// The browser's address.
    pub origin: String,
    created_at: i64,
    /// The approving device.
    pub approved_by: Option<Uuid>,
    approved_at: Option<i64>,
    last_used_at: i64,
}

const COLS: &str = "id, user_id, status, code_failures, admin, user_agent, origin, created_at, approved_by, approved_at, last_used_at";

impl SessionRow {
    fn from_row(r: &Row<'_>) -> StoreResult<Self> {
        Ok(Self {
            id: parse_uuid(&r.get::<String>(0)?)?,
            user_id: parse_uuid(&r.get::<String>(1)?)?,
            status: parse_enum(&r.get::<String>(2)?)?,
            code_failures: r.get(3)?,
            admin: r.get(4)?,
            user_agent: r.get(5)?,
            origin: r.get(6)?,
            created_at: r.get(7)?,
            approved_by: r
                .get::<Option<String>>(8)?
                .as_deref()
                .map(parse_uuid)
                .transpose()?,
            approved_at: r.get(9)?,
            last_used_at: r.get(10)?,
        })
    }

    /// When it ends unless approved (pending) or used (active), in Unix seconds.
    pub fn expires_at(&self) -> i64 {
        match self.status {
            ConsoleStatus::Pending => self.created_at + CONSOLE_PENDING_SECS,
            ConsoleStatus::Active => (self.last_used_at + CONSOLE_IDLE_SECS)
                .min(self.approved_at.unwrap_or(self.created_at) + CONSOLE_MAX_SECS),
        }
    }

    /// The wire form (`other_network` false; see [`SessionRow::wire_for`]).
    pub fn wire(&self) -> ConsoleSession {
        self.wire_for(None)
    }

    /// The wire form as the device calling from `caller_origin` sees it.
    pub fn wire_for(&self, caller_origin: Option<&str>) -> ConsoleSession {
        ConsoleSession {
            id: self.id,
            status: self.status,
            user_agent: self.user_agent.clone(),
            origin: self.origin.clone(),
            created_at: ts(self.created_at),
            expires_at: ts(self.expires_at()),
            approved_by: self.approved_by,
            admin: self.admin,
            other_network: caller_origin.is_some_and(|o| o != self.origin),
        }
    }
}

/// Why a session no longer works (shown on the sign-in page; no secrets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// No such session (never was, signed out, revoked, or ended by too many wrong codes).
    Unknown,
    /// Its time ran out.
    Expired,
    /// The device that approved it was disabled or lost its key-holder tier.
    ApproverGone,
    /// A waiting sign-in looked at, or its approval collected, from another address than
    /// the one its password came from (a cookie planted in this browser or copied out of
    /// another): ended.
    Elsewhere,
}

impl Ended {
    /// The sentence the sign-in page shows.
    pub fn sentence(self) -> &'static str {
        match self {
            Self::Unknown => {
                "Your console session ended (signed out, revoked, or never approved). Sign in again."
            }
            Self::Expired => "Your console session expired. Sign in again.",
            Self::ApproverGone => {
                "The device that approved this console was disabled, so the console session ended. Sign in again and approve it from another key holder."
            }
            Self::Elsewhere => {
                "That console sign-in was started from another network address than this browser now has, so it was ended (your network may have changed, or the sign-in was not made in this browser). Sign in again here, and approve only a code you got by typing your password in this browser."
            }
        }
    }
}

/// The approving device as a caller of the API's rules, if it still is a trusted key
/// holder of a user who was not deprovisioned.
fn approver(tx: &Tx<'_>, s: &SessionRow) -> ApiResult<Option<DeviceCaller>> {
    let Some(id) = s.approved_by else {
        return Ok(None);
    };
    let Some(device) = DeviceRow::load(tx, id)? else {
        return Ok(None);
    };
    let d = &device.device;
    if d.status != DeviceStatus::Trusted
        || d.tier != Some(Tier::KeyHolder)
        || d.user_id != s.user_id
    {
        return Ok(None);
    }
    let Some(user) = UserRow::load(tx, s.user_id)? else {
        return Ok(None);
    };
    if user.deprovisioned {
        return Ok(None);
    }
    Ok(Some(DeviceCaller {
        user,
        device,
        console: Some(s.id),
    }))
}

/// Whether `s` still works; ends (deletes) it otherwise.
fn check(tx: &Tx<'_>, s: &SessionRow) -> ApiResult<Result<Option<DeviceCaller>, Ended>> {
    let ended = if now() >= s.expires_at() {
        Some(Ended::Expired)
    } else if s.status == ConsoleStatus::Active {
        match approver(tx, s)? {
            Some(caller) => return Ok(Ok(Some(caller))),
            None => Some(Ended::ApproverGone),
        }
    } else {
        None
    };
    match ended {
        Some(e) => {
            let why = match (e, s.status) {
                (Ended::ApproverGone, _) => {
                    "its approving device is no longer a trusted key holder"
                }
                (_, ConsoleStatus::Pending) => "nobody approved it in time",
                _ => "its time ran out",
            };
            // A phone still showing the prompt of a sign-in that timed out lets it go.
            end_session(tx, s, AuditAction::ConsoleExpired, &Actor::default(), why)?;
            Ok(Err(e))
        }
        None => Ok(Ok(None)),
    }
}

/// Tells the user's key-holder web and mobile devices (those that could approve a console)
/// about one of the user's console sessions: its id only, never its code.
fn tell_approvers(tx: &Tx<'_>, user_id: Uuid, event: &Event) -> ApiResult<()> {
    push_event_to_user(tx, user_id, None, true, event)
}

/// Ends `s` (deletes it), in one place: the audit log records `action` with `why`, and
/// the key holders' prompts for it go (`console_decided`). Every way a session ends
/// goes through here.
fn end_session(
    tx: &Tx<'_>,
    s: &SessionRow,
    action: AuditAction,
    actor: &Actor,
    why: &str,
) -> ApiResult<()> {
    tx.execute(
        "DELETE FROM console_sessions WHERE id = ?1",
        [s.id.to_string()],
    )?;
    crate::audit::record(
        tx,
        s.user_id,
        s.approved_by,
        action,
        actor,
        Some(&format!(
            "console {} from {} ({}): {why}",
            s.id, s.origin, s.user_agent
        )),
    )?;
    tell_approvers(tx, s.user_id, &Event::ConsoleDecided { session_id: s.id })
}

/// Starts a pending session for a user who just gave the right password; returns its
/// token (for the cookie: always a new one). The browser's earlier pending sessions of
/// this user (`replaces`, the cookies it came with) end. Refused (`too_many_requests`, nothing
/// changed) when the user already has [`MAX_PENDING`] sign-ins waiting, or opened `rate`
/// sign-ins in the last [`APPROVAL_WINDOW_SECS`] (each one pushes a prompt). The user's
/// key-holder web and mobile devices get `console_requested` (the id only, never the
/// code); the audit log records the sign-in.
pub fn create(
    tx: &Tx<'_>,
    user_id: Uuid,
    user_agent: &str,
    origin: &str,
    rate: u32,
    replaces: &[Token],
) -> ApiResult<Token> {
    for old in replaces {
        let row = tx.query_opt(
            &format!(
                "SELECT {COLS} FROM console_sessions WHERE token_hash = ?1 AND status = 'pending' AND user_id = ?2"
            ),
            params![token_hash(&old.0), user_id.to_string()],
            SessionRow::from_row,
        )?;
        if let Some(row) = row {
            let actor = Actor::at(origin);
            end_session(
                tx,
                &row,
                AuditAction::ConsoleRevoked,
                &actor,
                "ended, a new sign-in in the same browser replaced it",
            )?;
        }
    }
    let t = now();
    let pending: Vec<SessionRow> = list(tx, user_id)?
        .into_iter()
        .filter(|s| s.status == ConsoleStatus::Pending)
        .collect();
    let network = network_of(origin);
    let here: Vec<&SessionRow> = pending
        .iter()
        .filter(|s| network_of(&s.origin) == network)
        .collect();
    if here.len() >= MAX_PENDING_PER_ADDRESS {
        let wait = here.iter().map(|s| s.expires_at()).min().unwrap_or(t) - t;
        return Err(ApiError::too_many(
            wait.max(1) as u64,
            "2 console sign-ins of this account from this network address are already waiting for approval: approve or end one on a key holder (vouch console), or wait until they expire",
        ));
    }
    // The sign-ins of the last window, from the audit log (signing out does not reset
    // it): limited per network address (someone else with the password cannot use up
    // the user's), and the key holders' prompts per user (beyond `rate`, a sign-in still
    // opens, unpushed: the key holder lists it and approves it by its code).
    let recent: Vec<(Option<String>, i64)> = tx.query_all(
        "SELECT origin, created_at FROM audit_events WHERE user_id = ?1 AND action = ?2 AND created_at > ?3",
        params![
            user_id.to_string(),
            enum_str(&AuditAction::ConsoleRequested),
            t - APPROVAL_WINDOW_SECS as i64
        ],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let from_here: Vec<i64> = recent
        .iter()
        .filter(|(o, _)| o.as_deref().map(network_of).as_deref() == Some(network.as_str()))
        .map(|(_, at)| *at)
        .collect();
    if from_here.len() >= rate as usize {
        let oldest = from_here.iter().copied().min().unwrap_or(t);
        let wait = oldest + APPROVAL_WINDOW_SECS as i64 - t;
        return Err(ApiError::too_many(
            wait.max(1) as u64,
            "too many console sign-ins for this account from this network address in the last 10 minutes",
        ));
    }
    let prompted = recent.len();
    let (token, hash) = new_token(TOKEN_PREFIX)?;
    let token = Token(token);
    let id = Uuid::new_v4();
    let at = now();
    let user_agent = vouch_proto::display_text(user_agent, USER_AGENT_MAX_CHARS);
    let user_agent = if user_agent.is_empty() {
        "unknown browser".to_owned()
    } else {
        user_agent
    };
    tx.execute(
        "INSERT INTO console_sessions (id, user_id, token_hash, code_hash, status, user_agent, origin, created_at, last_used_at)
         VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?6, ?7, ?7)",
        params![
            id.to_string(),
            user_id.to_string(),
            hash,
            code_hash(id, &code_for(&token)),
            user_agent,
            origin,
            at
        ],
    )?;
    crate::audit::record(
        tx,
        user_id,
        None,
        AuditAction::ConsoleRequested,
        &Actor::at(origin),
        Some(&format!("console {id} from {origin} ({user_agent})")),
    )?;
    if prompted < rate as usize {
        tell_approvers(tx, user_id, &Event::ConsoleRequested { session_id: id })?;
    }
    Ok(token)
}

/// What a cookie's token leads to.
#[derive(Debug)]
pub enum Resolved {
    /// Waiting for its approval.
    Pending(SessionRow),
    /// Approved: the session and the approving device it acts as.
    Active(SessionRow, Box<DeviceCaller>),
    /// Approved while this (pending) token waited: it works once more, for [`rotate`],
    /// which gives the browser its new token.
    Approved(SessionRow),
    /// It does not work (any more).
    Ended(Ended),
}

/// Looks a browser's token up; an active session's idle time starts again (sliding).
pub fn resolve(tx: &Tx<'_>, token: &Token) -> ApiResult<Resolved> {
    if !token.0.starts_with(TOKEN_PREFIX) || token.0.len() > 200 {
        return Ok(Resolved::Ended(Ended::Unknown));
    }
    let hash = token_hash(&token.0);
    let by = |h: Vec<u8>| {
        tx.query_opt(
            &format!("SELECT {COLS} FROM console_sessions WHERE token_hash = ?1"),
            [h],
            SessionRow::from_row,
        )
    };
    let (row, marker) = match by(hash.clone())? {
        Some(row) => (row, false),
        None => match by(approved_marker(&hash))? {
            Some(row) => (row, true),
            None => return Ok(Resolved::Ended(Ended::Unknown)),
        },
    };
    match check(tx, &row)? {
        Err(e) => Ok(Resolved::Ended(e)),
        Ok(_) if marker => Ok(Resolved::Approved(row)),
        Ok(None) => Ok(Resolved::Pending(row)),
        Ok(Some(caller)) => {
            tx.execute(
                "UPDATE console_sessions SET last_used_at = ?2 WHERE id = ?1",
                params![row.id.to_string(), now()],
            )?;
            Ok(Resolved::Active(row, Box::new(caller)))
        }
    }
}

/// What the best of a browser's tokens leads to, and that token: a browser may send
/// several under one name (on loopback another local site can plant one with a narrower
/// `Path`, which the browser sends first), so a planted value never hides this
/// browser's own. Active before approved before waiting (the newest sign-in first)
/// before ended; `None` when it sent none.
pub fn resolve_best(tx: &Tx<'_>, tokens: Vec<Token>) -> ApiResult<Option<(Token, Resolved)>> {
    let rank = |r: &Resolved| match r {
        Resolved::Active(..) => (0, 0),
        Resolved::Approved(_) => (1, 0),
        Resolved::Pending(row) => (2, -row.created_at),
        Resolved::Ended(_) => (3, 0),
    };
    let mut best: Option<(Token, Resolved)> = None;
    for token in tokens {
        let resolved = resolve(tx, &token)?;
        if best.as_ref().is_none_or(|(_, b)| rank(&resolved) < rank(b)) {
            best = Some((token, resolved));
        }
    }
    Ok(best)
}

/// Seconds after its approval within which a waiting browser must collect its session
/// (it looks every 5 s): a copy of the waiting cookie cannot collect it later.
pub const COLLECT_SECS: i64 = 60;

/// What the wait page may do with `row`, the session a browser's waiting token led to,
/// asked from `origin`: `None` when the browser may see its code or collect its approval;
/// else the session is ended here (audited; the key holders' prompts go) and why.
/// Only the address the password came from may look at a waiting sign-in or collect it,
/// and only within [`COLLECT_SECS`] of its approval.
pub fn refuse_elsewhere(tx: &Tx<'_>, row: &SessionRow, origin: &str) -> ApiResult<Option<Ended>> {
    let late = row.approved_at.is_some_and(|at| now() > at + COLLECT_SECS);
    // Looked at from elsewhere: ended by the server (not by time), filed as such.
    let (ended, action, why) = if row.origin != origin {
        (
            Ended::Elsewhere,
            AuditAction::ConsoleRevoked,
            format!("ended, looked at from {origin}, not from the address of its password"),
        )
    } else if late {
        (
            Ended::Expired,
            AuditAction::ConsoleExpired,
            "ended, its approval was not collected in time".to_owned(),
        )
    } else {
        return Ok(None);
    };
    let actor = Actor::at(origin);
    end_session(tx, row, action, &actor, &why)?;
    Ok(Some(ended))
}

/// Gives the approved session that the pending `token` led to ([`Resolved::Approved`])
/// its new token; from now on only the new one works. `None` if another request with
/// the same pending token rotated it first.
pub fn rotate(tx: &Tx<'_>, token: &Token, id: Uuid) -> ApiResult<Option<Token>> {
    let (fresh, hash) = new_token(TOKEN_PREFIX)?;
    let changed = tx.execute(
        "UPDATE console_sessions SET token_hash = ?3, last_used_at = ?4 WHERE id = ?1 AND token_hash = ?2 AND status = 'active'",
        params![
            id.to_string(),
            approved_marker(&token_hash(&token.0)),
            hash,
            now()
        ],
    )?;
    Ok((changed == 1).then_some(Token(fresh)))
}

/// The user's live sessions (pending and active), oldest first; dead ones are ended.
pub fn list(tx: &Tx<'_>, user_id: Uuid) -> ApiResult<Vec<SessionRow>> {
    let rows =
        {
            tx.query_all(&format!(
            "SELECT {COLS} FROM console_sessions WHERE user_id = ?1 ORDER BY created_at, rowid"
        ), [user_id.to_string()], SessionRow::from_row)?
        };
    let mut live = Vec::new();
    for r in rows {
        if check(tx, &r)?.is_ok() {
            live.push(r);
        }
    }
    Ok(live)
}

/// Approves the user's pending session `id` with `code`, as the key-holder device
/// `approver` (web or mobile: checked by the caller). The inner result is the answer;
/// the outer one commits a counted wrong code too.
pub fn approve(
    tx: &Tx<'_>,
    approver: &DeviceCaller,
    id: Uuid,
    code: &str,
    actor: &Actor,
) -> ApiResult<ApiResult<SessionRow>> {
    let row = tx.query_opt(
        &format!("SELECT {COLS} FROM console_sessions WHERE id = ?1 AND user_id = ?2"),
        params![id.to_string(), approver.user.id.to_string()],
        SessionRow::from_row,
    )?;
    // Another user's session does not exist for this caller (no probing of ids).
    let Some(row) = row else {
        return Ok(Err(ApiError::not_found("console session")));
    };
    if check(tx, &row)?.is_err() {
        return Ok(Err(ApiError::new(
            ErrorCode::RequestExpired,
            "this console sign-in expired; sign in again in the browser",
        )));
    }
    if row.status != ConsoleStatus::Pending {
        return Ok(Err(ApiError::new(
            ErrorCode::AlreadyDecided,
            "this console session is already approved",
        )));
    }
    let given: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if given.len() != 6 || !given.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(Err(ApiError::bad_request(
            "the code is the 6 digits the console shows",
        )));
    }
    let (stored, pending_hash): (Vec<u8>, Vec<u8>) = tx.query_one(
        "SELECT code_hash, token_hash FROM console_sessions WHERE id = ?1",
        [id.to_string()],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let right = bool::from(code_hash(id, &given).ct_eq(&stored));
    if !right {
        let failures = row.code_failures + 1;
        crate::audit::record(
            tx,
            approver.user.id,
            Some(approver.device.device.id),
            AuditAction::ConsoleCodeRejected,
            actor,
            Some(&format!(
                "console {} from {}: {} attempt(s) left",
                row.id,
                row.origin,
                CONSOLE_CODE_ATTEMPTS.saturating_sub(failures)
            )),
        )?;
        if failures >= CONSOLE_CODE_ATTEMPTS {
            end_session(
                tx,
                &row,
                AuditAction::ConsoleRevoked,
                actor,
                "ended after too many wrong codes",
            )?;
            return Ok(Err(ApiError::new(
                ErrorCode::CodeExpired,
                "too many wrong codes: this console sign-in was ended; sign in again in the browser",
            )));
        }
        tx.execute(
            "UPDATE console_sessions SET code_failures = ?2 WHERE id = ?1",
            params![id.to_string(), failures],
        )?;
        return Ok(Err(ApiError::invalid_code(
            CONSOLE_CODE_ATTEMPTS - failures,
        )));
    }
    let at = now();
    tx.execute(
        "UPDATE console_sessions SET status = 'active', approved_by = ?2, approved_at = ?3, last_used_at = ?3, admin = ?4, token_hash = ?5 WHERE id = ?1",
        params![
            id.to_string(),
            approver.device.device.id.to_string(),
            at,
            approver.is_admin(),
            approved_marker(&pending_hash)
        ],
    )?;
    let detail = format!(
        "console {} from {} ({}){}",
        row.id,
        row.origin,
        row.user_agent,
        if approver.is_admin() { ", admin" } else { "" }
    );
    crate::audit::record(
        tx,
        approver.user.id,
        Some(approver.device.device.id),
        AuditAction::ConsoleApproved,
        actor,
        Some(&detail),
    )?;
    let row = tx.query_one(
        &format!("SELECT {COLS} FROM console_sessions WHERE id = ?1"),
        [id.to_string()],
        SessionRow::from_row,
    )?;
    tell_approvers(tx, row.user_id, &Event::ConsoleDecided { session_id: id })?;
    Ok(Ok(row))
}

/// Ends a pending sign-in its own browser gave up (signed out from the wait page, from
/// `origin`); audited, and the key holders' prompts for it go (`console_decided`).
pub fn end_pending(tx: &Tx<'_>, s: &SessionRow, origin: &str) -> ApiResult<()> {
    if s.status != ConsoleStatus::Pending {
        return Ok(());
    }
    let actor = Actor::at(origin);
    end_session(
        tx,
        s,
        AuditAction::ConsoleRevoked,
        &actor,
        "signed out while waiting",
    )
}

/// Ends every waiting console sign-in of `user_id` (the user was deprovisioned); each
/// is audited and its prompts go.
pub fn end_all_pending(tx: &Tx<'_>, user_id: Uuid, actor: &Actor) -> ApiResult<()> {
    for s in list(tx, user_id)? {
        if s.status == ConsoleStatus::Pending {
            end_session(
                tx,
                &s,
                AuditAction::ConsoleRevoked,
                actor,
                "ended, the user was deprovisioned",
            )?;
        }
    }
    Ok(())
}

/// Ends the user's session `id` (404 if the user has none such).
pub fn revoke(tx: &Tx<'_>, user_id: Uuid, id: Uuid, actor: &Actor) -> ApiResult<()> {
    let row = tx
        .query_opt(
            &format!("SELECT {COLS} FROM console_sessions WHERE id = ?1 AND user_id = ?2"),
            params![id.to_string(), user_id.to_string()],
            SessionRow::from_row,
        )?
        .ok_or_else(|| ApiError::not_found("console session"))?;
    end_session(tx, &row, AuditAction::ConsoleRevoked, actor, "ended")
}
