//! `POST /v1/auth/login`.

use crate::store::{Tx, params};
use axum::Json;
use vouch_proto::{
    ACCOUNT_TOKEN_TTL_SECS, ErrorBody, ErrorCode, LOGIN_ADDRESS_FREE_FAILURES,
    LOGIN_EMAIL_FREE_FAILURES, LOGIN_FAILURE_WINDOW_SECS, LOGIN_FREE_FAILURES,
    LOGIN_MAX_BACKOFF_SECS, LoginRequest, LoginResponse, UserInfo,
};

use crate::{
    AppState,
    auth::Origin,
    error::{ApiError, ApiResult},
    extract::JsonBody,
    model::{ACCOUNT_TOKEN_PREFIX, USER_COLS, UserRow, new_token, now, ts},
};

/// A hash of a random password made once: verifying against it when the email is
/// unknown keeps "no such user" as slow as "wrong password".
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| crate::seed::hash_password("not-a-password-of-anyone").unwrap_or_default())
}

/// Signs in with email and password; returns an account token (untrusted session).
#[utoipa::path(post, path = vouch_proto::routes::LOGIN, tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = ErrorBody, description = "invalid_credentials"),
        (status = 429, body = ErrorBody, description = "too_many_requests after repeated wrong passwords (Retry-After)"),
        (status = 503, body = ErrorBody, description = "server_busy: too many sign-ins at once (Retry-After)")))]
pub async fn login(
    axum::extract::State(state): axum::extract::State<AppState>,
    Origin(address): Origin,
    JsonBody(req): JsonBody<LoginRequest>,
) -> ApiResult<Json<LoginResponse>> {
    let email = req.email.trim().to_owned();
    if email.is_empty() || email.len() > 254 || req.password.len() > 1024 {
        return Err(ApiError::new(
            ErrorCode::InvalidCredentials,
            "wrong email or password",
        ));
    }
    let keys = ThrottleKeys::new(&email, address);
    // The attempt is counted before the password is checked, in the same transaction as
    // the throttle check, so parallel guesses cannot slip through one window.
    let counted = keys.clone();
    let known = state.db.tx(move |tx| counted.count_attempt(tx)).await?;
    let found = state
        .db
        .tx(move |tx| {
            Ok(tx
                .query_opt(
                    &format!("SELECT {USER_COLS}, password_hash, (SELECT name FROM workspaces w WHERE w.id = users.workspace_id) FROM users WHERE email = ?1"),
                    [&email],
                    |r| Ok((UserRow::from_row(r)?, r.get::<String>(6)?, r.get::<String>(7)?)),
                )?)
        })
        .await?;
    let password = req.password;
    let (user, hash, workspace_name) = match found {
        Some(f) => f,
        None => {
            let _ = state
                .hashing
                .run(address, move || {
                    crate::password::verify(&password, dummy_hash())
                })
                .await?;
            return Err(ApiError::new(
                ErrorCode::InvalidCredentials,
                "wrong email or password",
            ));
        }
    };
    let ok = state
        .hashing
        .run(address, move || crate::password::verify(&password, &hash))
        .await?;
    if !ok {
        return Err(ApiError::new(
            ErrorCode::InvalidCredentials,
            "wrong email or password",
        ));
    }
    if user.deprovisioned {
        return Err(ApiError::forbidden("this account was deprovisioned"));
    }
    let (token, token_hash) = new_token(ACCOUNT_TOKEN_PREFIX)?;
    let expires_at = now() + ACCOUNT_TOKEN_TTL_SECS as i64;
    let uid = user.id;
    state
        .db
        .tx(move |tx| {
            keys.signed_in(tx, known)?;
            tx.execute("DELETE FROM account_tokens WHERE expires_at <= ?1", [now()])?;
            tx.execute(
                "INSERT INTO account_tokens (hash, user_id, expires_at) VALUES (?1, ?2, ?3)",
                params![token_hash, uid.to_string(), expires_at],
            )?;
            let actor = crate::audit::Actor::at(address);
            crate::audit::record(
                tx,
                uid,
                None,
                vouch_proto::AuditAction::SignedIn,
                &actor,
                None,
            )?;
            Ok(())
        })
        .await?;
    Ok(Json(LoginResponse {
        account_token: token,
        expires_at: ts(expires_at),
        user: UserInfo {
            id: user.id,
            email: user.email,
            username: user.username,
            workspace_id: user.workspace_id,
            workspace_name,
            role: user.role,
        },
    }))
}

/// The three counts a sign-in attempt adds to: this email from this address (the owner's
/// own count: a stranger elsewhere does not touch it), this email from everywhere (a
/// higher ceiling against guessing spread over many addresses) and this address for any
/// email (credential stuffing). Each slows down on its own; the longest wait wins.
#[derive(Clone)]
struct ThrottleKeys {
    email: String,
    address: String,
    keys: [(String, u32); 3],
}

/// How long an address the owner signed in from stays known.
const KNOWN_ADDRESS_MS: i64 = 90 * 24 * 3600 * 1000;

impl ThrottleKeys {
    fn new(email: &str, address: std::net::IpAddr) -> Self {
        let email = email.to_lowercase();
        Self {
            keys: [
                (format!("pair:{address}:{email}"), LOGIN_FREE_FAILURES),
                (format!("email:{email}"), LOGIN_EMAIL_FREE_FAILURES),
                (format!("address:{address}"), LOGIN_ADDRESS_FREE_FAILURES),
            ],
            email,
            address: address.to_string(),
        }
    }

    /// The counts that apply: all three, or without the per-email one at a known address.
    fn keys(&self, known: bool) -> impl Iterator<Item = &(String, u32)> {
        self.keys
            .iter()
            .enumerate()
            .filter(move |(i, _)| !(known && *i == 1))
            .map(|(_, k)| k)
    }

    /// Refuses with 429 while any count asks to wait; otherwise counts this attempt as a
    /// failure (taken back by [`ThrottleKeys::signed_in`]).
    /// Returns whether the address is one the owner signed in from (see `keys`).
    fn count_attempt(&self, tx: &Tx<'_>) -> ApiResult<bool> {
        let t = now_ms();
        let window_ms = LOGIN_FAILURE_WINDOW_SECS as i64 * 1000;
        tx.execute(
            "DELETE FROM login_failures WHERE last_at <= ?1",
            [t - window_ms],
        )?;
        // At an address the owner signed in from lately, the per-email ceiling does not
        // apply (its own pair count still does): guesses spread over other addresses
        // cannot lock the owner out there.
        let known: bool = tx.query_one(
            "SELECT EXISTS(SELECT 1 FROM login_known WHERE email = ?1 AND address = ?2 AND last_ok_at > ?3)",
            params![self.email, self.address, t - KNOWN_ADDRESS_MS],
            |r| r.get(0),
        )?;
        let mut wait_ms = 0i64;
        for (key, free) in self.keys(known) {
            let row: Option<(u32, i64)> = tx.query_opt(
                "SELECT failures, last_at FROM login_failures WHERE email = ?1",
                [key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            if let Some((failures, last_at)) = row
                && last_at > t - window_ms
            {
                let w = last_at + login_backoff_secs(failures, *free) as i64 * 1000 - t;
                wait_ms = wait_ms.max(w);
            }
        }
        if wait_ms > 0 {
            return Err(ApiError::too_many(
                (wait_ms as u64).div_ceil(1000),
                "too many wrong passwords",
            ));
        }
        for (key, _) in self.keys(known) {
            tx.execute(
                "INSERT INTO login_failures (email, failures, last_at) VALUES (?1, 1, ?2)
                 ON CONFLICT(email) DO UPDATE SET last_at = excluded.last_at,
                     failures = CASE WHEN login_failures.last_at <= ?2 - ?3 THEN 1 ELSE login_failures.failures + 1 END",
                params![key, t, window_ms],
            )?;
        }
        Ok(known)
    }

    /// The right password: this email's count from this address starts again, and the
    /// attempt counted in advance is taken back from the other two.
    fn signed_in(&self, tx: &Tx<'_>, known: bool) -> ApiResult<()> {
        tx.execute(
            "INSERT INTO login_known (email, address, last_ok_at) VALUES (?1, ?2, ?3)
             ON CONFLICT(email, address) DO UPDATE SET last_ok_at = excluded.last_ok_at",
            params![self.email, self.address, now_ms()],
        )?;
        let mut counted = self.keys(known);
        if let Some((pair, _)) = counted.next() {
            tx.execute("DELETE FROM login_failures WHERE email = ?1", [pair])?;
        }
        for (key, _) in counted {
            tx.execute(
                "UPDATE login_failures SET failures = CASE WHEN failures > 0 THEN failures - 1 ELSE 0 END WHERE email = ?1",
                [key],
            )?;
        }
        Ok(())
    }
}

/// Seconds to wait after `failures` wrong passwords before the next attempt: none for the
/// first `free`, then 1 s doubling up to [`LOGIN_MAX_BACKOFF_SECS`].
fn login_backoff_secs(failures: u32, free: u32) -> u64 {
    match failures.checked_sub(free) {
        None => 0,
        Some(extra) => 1u64
            .checked_shl(extra.min(32))
            .unwrap_or(u64::MAX)
            .min(LOGIN_MAX_BACKOFF_SECS),
    }
}

/// Milliseconds since the epoch on the server's clock (the throttle counts in ms so a
/// second boundary between two attempts does not shorten the wait).
fn now_ms() -> i64 {
    crate::model::now_ms()
}
