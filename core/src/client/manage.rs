//! Device and workspace management: signing out, renaming a device, the admin's users (by email or
//! id), reactivation, the audit log, and finding a vault by name.

use uuid::Uuid;
use vouch_proto::routes;
use vouch_proto::{AdminUser, AuditEvent, Device, RenameDevice};

use super::{Client, EnrollmentState, VaultInfo};
use crate::error::{Error, Result};

/// How a vault name is compared (duplicates, look-ups): trimmed, case-insensitive.
fn vault_name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

impl Client {
    /// Renames a device of this user (`PATCH /v1/devices/{id}`, the naming rules of
    /// registration). Any trusted device may rename itself; key-holder web devices rename
    /// the user's other devices. Renaming this device updates its state too.
    pub async fn rename_device(&self, device_id: Uuid, name: &str) -> Result<Device> {
        let token = self.device_token()?;
        let body = RenameDevice { name: name.into() };
        let device: Device = self
            .guard(
                self.inner
                    .transport
                    .send(
                        reqwest::Method::PATCH,
                        &routes::fill(routes::DEVICE, &[&device_id]),
                        Some(&token),
                        Some(&body),
                    )
                    .await,
            )
            .await?;
        if self.state().device_id() == Some(device_id) {
            let _t = self.inner.transition.lock().await;
            if let EnrollmentState::Trusted {
                user,
                device_id,
                verified_by,
                tier,
                ..
            } = self.state()
            {
                let renamed = EnrollmentState::Trusted {
                    user,
                    device_id,
                    device_name: device.name.clone(),
                    verified_by,
                    tier,
                };
                self.persist(renamed, None)?;
            }
        }
        Ok(device)
    }

    /// Signs this device out on the server: a trusted device (any tier) disables itself
    /// there — its name and slot are freed and the user's other devices are told — and then
    /// wipes its keys, items and tokens here (state `Wiped`). Returns whether the server was
    /// told (`false` for a device that was never trusted: it has nothing there to end).
    /// Offline it fails with `Error::Offline` and changes nothing; the app may still
    /// [`Client::wipe`].
    pub async fn sign_out(&self) -> Result<bool> {
        let Some(id) = self
            .state()
            .device_id()
            .filter(|_| self.state().is_trusted())
        else {
            return Ok(false);
        };
        // A key holder leaving revokes itself on the vouch chain first, so the others
        // stop sealing keys to it and rotate what it held (their sync's upkeep revokes it
        // if this fails).
        if self.state().is_key_holder()
            && let Err(e) = self.revoke_on_chain(id).await
        {
            log::warn!("this device's revocation is not on the vouch chain: {e}");
        }
        let token = self.device_token()?;
        let _: vouch_proto::Disabled = self
            .guard(
                self.inner
                    .transport
                    .post(
                        &routes::fill(routes::DEVICE_SIGN_OUT, &[&id]),
                        Some(&token),
                        &(),
                    )
                    .await,
            )
            .await?;
        self.wipe().await?;
        Ok(true)
    }

    /// Admin: the workspace's users with their device counts.
    pub async fn admin_users(&self) -> Result<Vec<AdminUser>> {
        self.require_key_holder_device()?;
        let token = self.device_token()?;
        self.guard(
            self.inner
                .transport
                .get(routes::ADMIN_USERS, Some(&token))
                .await,
        )
        .await
    }

    /// Admin: a user of the workspace by email (compared without case) or id;
    /// `Error::InvalidInput` when there is none.
    pub async fn admin_user(&self, email_or_id: &str) -> Result<AdminUser> {
        self.require_key_holder_device()?;
        let token = self.device_token()?;
        let wanted = email_or_id.trim();
        let path = match Uuid::parse_str(wanted) {
            Ok(_) => routes::ADMIN_USERS.to_owned(),
            Err(_) => format!(
                "{}?email={}",
                routes::ADMIN_USERS.to_owned(),
                url::form_urlencoded::byte_serialize(wanted.as_bytes()).collect::<String>()
            ),
        };
        let users: Vec<AdminUser> = self
            .guard(self.inner.transport.get(&path, Some(&token)).await)
            .await?;
        users
            .into_iter()
            .find(|u| {
                u.id.to_string() == wanted.to_lowercase() || u.email.eq_ignore_ascii_case(wanted)
            })
            .ok_or_else(|| Error::InvalidInput(format!("no user {wanted} in your workspace")))
    }

    /// Admin: reactivates a deprovisioned user (new devices only; the old ones stay
    /// disabled). Their next web or mobile device verified by email becomes a key holder.
    pub async fn admin_reactivate(&self, user_id: Uuid) -> Result<AdminUser> {
        self.require_key_holder_device()?;
        let token = self.device_token()?;
        self.guard(
            self.inner
                .transport
                .post(
                    &routes::fill(routes::ADMIN_USER_REACTIVATE, &[&user_id]),
                    Some(&token),
                    &(),
                )
                .await,
        )
        .await
    }

    /// Admin: the newest `limit` entries (default 100) of the workspace's audit log of
    /// device events, or of one user, oldest first.
    pub async fn admin_audit(
        &self,
        user_id: Option<Uuid>,
        limit: Option<u32>,
    ) -> Result<Vec<AuditEvent>> {
        self.require_key_holder_device()?;
        let token = self.device_token()?;
        let mut query = Vec::new();
        if let Some(u) = user_id {
            query.push(format!("user_id={u}"));
        }
        if let Some(l) = limit {
            query.push(format!("limit={l}"));
        }
        let path = if query.is_empty() {
            routes::ADMIN_AUDIT.to_owned()
        } else {
            format!("{}?{}", routes::ADMIN_AUDIT.to_owned(), query.join("&"))
        };
        self.guard(self.inner.transport.get(&path, Some(&token)).await)
            .await
    }

    /// Whether one of this user's vaults on this device already has `name` (trimmed,
    /// case-insensitive): vault names are unique per user (a local read).
    pub fn vault_name_taken(&self, name: &str) -> Result<bool> {
        let key = vault_name_key(name);
        Ok(self
            .vaults()?
            .iter()
            .any(|v| vault_name_key(&v.name) == key))
    }

    /// A vault of this device by id or by name (trimmed, case-insensitive). A name that
    /// more than one vault has is refused as ambiguous (use the id).
    pub fn find_vault(&self, name_or_id: &str) -> Result<VaultInfo> {
        let vaults = self.vaults()?;
        if let Ok(id) = Uuid::parse_str(name_or_id.trim())
            && let Some(v) = vaults.iter().find(|v| v.id == id)
        {
            return Ok(v.clone());
        }
        let key = vault_name_key(name_or_id);
        let mut named = vaults
            .into_iter()
            .filter(|v| vault_name_key(&v.name) == key);
        match (named.next(), named.next()) {
            (Some(v), None) => Ok(v),
            (Some(_), Some(_)) => Err(Error::InvalidInput(format!(
                "more than one vault is called \"{}\"; use its id",
                name_or_id.trim()
            ))),
            (None, _) => Err(Error::InvalidInput(format!(
                "no vault \"{}\" on this device (`vouch vault list`)",
                name_or_id.trim()
            ))),
        }
    }
}
