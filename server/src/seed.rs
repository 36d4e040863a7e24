//! Users: the `--dev` workspace and the admin command's `create-user`.

use crate::store::params;
use argon2::{
    Argon2,
    password_hash::{PasswordHasher, SaltString},
};
use uuid::Uuid;
use vouch_proto::{ErrorCode, Role};

use crate::{
    db::Db,
    error::{ApiError, ApiResult},
    model::enum_str,
};

/// Password of every seeded dev user.
pub const DEV_PASSWORD: &str = "dev-password";
/// Name of the seeded dev workspace.
pub const DEV_WORKSPACE: &str = "Acme";

/// Hashes a password with argon2id (the crate's default, OWASP-recommended parameters).
pub fn hash_password(password: &str) -> ApiResult<String> {
    let mut raw = [0u8; 16];
    getrandom::fill(&mut raw).map_err(|_| ApiError::internal())?;
    let salt = SaltString::encode_b64(&raw).map_err(|_| ApiError::internal())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| ApiError::internal())
}

/// What [`create_user`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    /// A new user with this id.
    New(Uuid),
    /// The email already had an account (this id); nothing was changed.
    Existing(Uuid),
}

/// Creates a user (and its workspace if new; workspace names compare without case, the
/// first spelling stays). An existing email is left unchanged and reported as such.
pub fn create_user(
    db: &Db,
    workspace: &str,
    email: &str,
    password: &str,
    role: Role,
) -> ApiResult<Created> {
    let email = email.trim().to_owned();
    let workspace = workspace.trim();
    if workspace.is_empty() || workspace.chars().count() > 64 {
        return Err(ApiError::bad_request(
            "workspace names have 1 to 64 characters",
        ));
    }
    if !email.contains('@') || email.len() > 254 {
        return Err(ApiError::bad_request("invalid email address"));
    }
    if password.len() < 8 {
        return Err(ApiError::bad_request(
            "passwords need at least 8 characters",
        ));
    }
    let hash = hash_password(password)?;
    let workspace = workspace.to_owned();
    db.tx_blocking(move |tx| {
        if let Some(id) = tx
            .query_opt("SELECT id FROM users WHERE email = ?1", [&email], |r| r.get::<String>(0))?
        {
            return Uuid::parse_str(&id).map(Created::Existing).map_err(|_| ApiError::internal());
        }
        let ws: String = match tx
            .query_opt("SELECT id FROM workspaces WHERE lower(name) = lower(?1)", [&workspace], |r| r.get(0))?
        {
            Some(id) => id,
            None => {
                let id = Uuid::new_v4().to_string();
                tx.execute("INSERT INTO workspaces (id, name) VALUES (?1, ?2)", params![id, workspace])?;
                id
            }
        };
        let id = Uuid::new_v4();
        let username = email.split('@').next().unwrap_or("user").to_owned();
        tx.execute(
            "INSERT INTO users (id, workspace_id, email, username, password_hash, role) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![id.to_string(), ws, email, username, hash, enum_str(&role)],
        )?;
        Ok(Created::New(id))
    })
}

/// Seeds workspace "Acme": admin@, alice@, bob@, carol@acme.test, password `dev-password`.
pub fn dev_workspace(db: &Db) -> ApiResult<()> {
    for (email, role) in [
        ("admin@acme.test", Role::Admin),
        ("alice@acme.test", Role::Member),
        ("bob@acme.test", Role::Member),
        ("carol@acme.test", Role::Member),
    ] {
        create_user(db, DEV_WORKSPACE, email, DEV_PASSWORD, role)?;
    }
    Ok(())
}

/// The operator's last resort (DESIGN, Trust v2 (c)): the user's next `web`/`mobile`
/// email verification makes a first key holder again, once — for a user who lost every
/// key holder and has neither an admin's `new_root` approval nor a recovery key. Logged;
/// every device of the user is told when that device is added. Refused while the user has
/// a key holder that works (a thief with the password and the mailbox would take the new
/// root and push that key holder off the chain): it approves new devices. Returns the
/// user id.
pub fn allow_email_root(db: &Db, email: &str) -> ApiResult<Uuid> {
    let email = email.trim().to_owned();
    let id = db.tx_blocking(move |tx| {
        let id: String = tx
            .query_opt("SELECT id FROM users WHERE email = ?1", [&email], |r| {
                r.get(0)
            })?
            .ok_or_else(|| ApiError::not_found("user"))?;
        let live: Option<String> = tx.query_opt(
            "SELECT name FROM devices WHERE user_id = ?1 AND status = 'trusted' AND tier = 'key_holder'",
            [&id],
            |r| r.get(0),
        )?;
        if let Some(name) = live {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                format!(
                    "{email} still has a key holder that works (\"{name}\"): it approves new devices; allow-email-root is only for a user who lost every key holder"
                ),
            ));
        }
        tx.execute(
            "UPDATE users SET email_root_allowed = 1 WHERE id = ?1",
            [&id],
        )?;
        Uuid::parse_str(&id).map_err(|_| ApiError::internal())
    })?;
    log::warn!("operator allowed one email root for user {id}");
    Ok(id)
}
