//! The web console's delegated sessions, from a key holder (issue 17): list the browsers
//! signed in to the console, approve one with the code it shows, end one. Approving hands
//! the browser no key: the console manages devices with this device's powers, and ends
//! when this device is disabled.

use uuid::Uuid;
use vouch_proto::{ApproveConsole, ConsoleSession, routes};

use super::Client;
use crate::error::{Error, Result};

impl Client {
    /// The user's console sessions, pending and active (key holders only): what to show
    /// before approving one — browser, address, time. The listener gets the list too
    /// (the event loop calls this on `console_requested`).
    pub async fn console_sessions(&self) -> Result<Vec<ConsoleSession>> {
        self.require_key_holder_device()?;
        let token = self.device_token()?;
        let list: Vec<ConsoleSession> = self
            .guard(
                self.inner
                    .transport
                    .get(vouch_proto::CONSOLE_SESSIONS, Some(&token))
                    .await,
            )
            .await?;
        if let Some(l) = &self.inner.listener {
            l.console_sessions_changed(list.clone());
        }
        Ok(list)
    }

    /// Approves the pending console session `id` with the 6-digit code its browser shows
    /// (key-holder web or mobile devices only). A wrong code is `Error::Server` with
    /// `invalid_code` and the attempts left; the third ends that sign-in (`code_expired`).
    /// On phones the app's user-presence check runs first, as for a device approval
    /// ([`Error::UserPresenceRequired`] and nothing sent when it is not passed).
    pub async fn approve_console(&self, id: Uuid, code: &str) -> Result<ConsoleSession> {
        if !self.inner.device.kind.can_approve() {
            return Err(Error::InvalidState(
                "browser extensions cannot approve a console",
            ));
        }
        self.require_key_holder_device()?;
        let token = self.device_token()?;
        self.confirm_presence("Approve a web console sign-in?".to_owned())
            .await?;
        let body = ApproveConsole { code: code.into() };
        self.guard(
            self.inner
                .transport
                .post(
                    &routes::fill(vouch_proto::CONSOLE_SESSION_APPROVE, &[&id]),
                    Some(&token),
                    &body,
                )
                .await,
        )
        .await
    }

    /// Ends one of the user's console sessions (pending or active).
    pub async fn revoke_console(&self, id: Uuid) -> Result<()> {
        self.require_key_holder_device()?;
        let token = self.device_token()?;
        self.guard(
            self.inner
                .transport
                .post(
                    &routes::fill(vouch_proto::CONSOLE_SESSION_REVOKE, &[&id]),
                    Some(&token),
                    &(),
                )
                .await,
        )
        .await
    }
}
