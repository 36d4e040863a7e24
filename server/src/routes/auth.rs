//! `POST /v1/auth/login`.

use argon2::{Argon2, PasswordHash, PasswordVerifier};
use axum::Json;
use rusqlite::{OptionalExtension, params};
use vouch_proto::{
    ACCOUNT_TOKEN_TTL_SECS, ErrorBody, ErrorCode, LOGIN_FREE_FAILURES, LOGIN_MAX_BACKOFF_SECS,
    LoginRequest, LoginResponse, UserInfo,
};

use crate::{
    AppState,
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
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = ErrorBody, description = "invalid_credentials"),
        (status = 429, body = ErrorBody, description = "too_many_requests after repeated wrong passwords (Retry-After)")))]
pub async fn login(
    axum::extract::State(state): axum::extract::State<AppState>,
    JsonBody(req): JsonBody<LoginRequest>,
) -> ApiResult<Json<LoginResponse>> {
    let email = req.email.trim().to_owned();
    if email.is_empty() || email.len() > 254 || req.password.len() > 1024 {
        return Err(ApiError::new(
            ErrorCode::InvalidCredentials,
            "wrong email or password",
        ));
    }
    let key = email.to_lowercase();
    // The attempt is counted before the password is checked, in the same transaction as
    // the throttle check, so parallel guesses cannot slip through one window.
    let key2 = key.clone();
    state
        .db
        .tx(move |tx| {
            let row: Option<(u32, i64)> = tx
                .query_row("SELECT failures, last_at FROM login_failures WHERE email = ?1", [&key2], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            let t = now_ms();
            if let Some((failures, last_at)) = row {
                let wait_ms = last_at + login_backoff_secs(failures) as i64 * 1000 - t;
                if wait_ms > 0 {
                    return Err(ApiError::too_many((wait_ms as u64).div_ceil(1000), "too many wrong passwords"));
                }
            }
            tx.execute(
                "INSERT INTO login_failures (email, failures, last_at) VALUES (?1, 1, ?2)
                 ON CONFLICT(email) DO UPDATE SET failures = failures + 1, last_at = excluded.last_at",
                params![key2, t],
            )?;
            Ok(())
        })
        .await?;
    let found = state
        .db
        .tx(move |tx| {
            Ok(tx
                .query_row(
                    &format!("SELECT {USER_COLS}, password_hash, (SELECT name FROM workspaces w WHERE w.id = users.workspace_id) FROM users WHERE email = ?1"),
                    [&email],
                    |r| Ok((UserRow::from_row(r)?, r.get::<_, String>(6)?, r.get::<_, String>(7)?)),
                )
                .optional()?)
        })
        .await?;
    let password = req.password;
    let (user, hash, workspace_name) = match found {
        Some(f) => f,
        None => {
            let _ = tokio::task::spawn_blocking(move || verify(&password, dummy_hash())).await;
            return Err(ApiError::new(
                ErrorCode::InvalidCredentials,
                "wrong email or password",
            ));
        }
    };
    let ok = tokio::task::spawn_blocking(move || verify(&password, &hash))
        .await
        .unwrap_or(false);
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
            tx.execute("DELETE FROM login_failures WHERE email = ?1", [&key])?;
            tx.execute("DELETE FROM account_tokens WHERE expires_at <= ?1", [now()])?;
            tx.execute(
                "INSERT INTO account_tokens (hash, user_id, expires_at) VALUES (?1, ?2, ?3)",
                params![token_hash, uid.to_string(), expires_at],
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

/// Seconds to wait after `failures` consecutive wrong passwords before the next attempt:
/// none for the first [`LOGIN_FREE_FAILURES`], then 1 s doubling up to
/// [`LOGIN_MAX_BACKOFF_SECS`].
fn login_backoff_secs(failures: u32) -> u64 {
    match failures.checked_sub(LOGIN_FREE_FAILURES) {
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

fn verify(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}
