//! The trusted device's event loop: server-sent events resumed with the last id seen
//! (persisted), reconnecting with backoff; each event refreshes what it concerns.

use std::time::Duration;

use futures_util::StreamExt;
use vouch_proto::Event;

use super::Client;
use crate::error::{Error, Result};

const LAST_EVENT_ID: &str = "last_event_id";
const RECONNECT_MIN: Duration = Duration::from_millis(500);
const RECONNECT_MAX: Duration = Duration::from_secs(30);

impl Client {
    /// Runs until this device is no longer trusted (wiped, signed out) or the future is
    /// dropped: keeps the pending-approval list, vault keys and items current, and on
    /// learning it was disabled wipes the device (a verified revocation) or locks it. Start it once the device is trusted.
    pub async fn run_events(&self) -> Result<()> {
        let mut backoff = RECONNECT_MIN;
        while self.state().is_trusted() {
            let token = self.device_token()?;
            let last = self
                .inner
                .store
                .setting(LAST_EVENT_ID)?
                .and_then(|s| s.parse().ok());
            let stream = self
                .guard(self.inner.transport.events(&token, "", last).await)
                .await;
            let mut stream = match stream {
                Ok(s) => s,
                Err(Error::Wiped) => return Ok(()),
                // Locked on the server's word: ask again (with backoff) — the revocation
                // that makes it shred may follow, or the server may answer it again.
                Err(e) if e.is_transient() || matches!(e, Error::Locked) => {
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(RECONNECT_MAX);
                    continue;
                }
                Err(e) => return Err(e),
            };
            backoff = RECONNECT_MIN;
            // Catch up on anything that changed while disconnected.
            let _ = self.refresh_after_reconnect().await;
            while let Some(item) = stream.next().await {
                let Ok((id, event)) = item else { break };
                let handled = self.handle_event(event).await;
                self.inner
                    .store
                    .set_setting(LAST_EVENT_ID, &id.to_string())?;
                match handled {
                    Err(Error::Wiped) => return Ok(()),
                    Err(Error::Locked) => break,
                    Err(e) => log::warn!("event handling failed: {e}"),
                    Ok(()) => {}
                }
                if !self.state().is_trusted() {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// A key holder of an approving kind lists requests; nobody else may.
    fn may_approve(&self) -> bool {
        self.inner.device.kind.can_approve() && self.state().is_key_holder()
    }

    async fn refresh_after_reconnect(&self) -> Result<()> {
        if self.may_approve() {
            self.pending_requests().await?;
        }
        if self.approval_prompt()?.is_some() {
            self.check_approval().await?;
        }
        self.sync().await.map(|_| ())
    }

    async fn handle_event(&self, event: Event) -> Result<()> {
        let me = self.state().device_id();
        match event {
            // The server's word: shred only on a verified revocation, else lock.
            Event::DeviceDisabled { device_id } if Some(device_id) == me => {
                let _t = self.inner.transition.lock().await;
                Err(self.on_disabled().await)
            }
            Event::ApprovalRequested { .. } | Event::ApprovalDecided { .. } => {
                if self.may_approve() {
                    self.pending_requests().await?;
                }
                if self.approval_prompt()?.is_some() {
                    self.check_approval().await?;
                }
                Ok(())
            }
            Event::ApprovalRun { .. } => {
                if self.approval_prompt()?.is_some() {
                    self.check_approval().await?;
                }
                Ok(())
            }
            Event::ItemChanged { .. } | Event::VaultDeleted { .. } => self.sync().await.map(|_| ()),
            // A new link is verified at once: a chain that does not verify is reported
            // now, not at the next key move.
            Event::ChainChanged { .. } if self.state().is_key_holder() => {
                self.sync_chain().await.map(|_| ())
            }
            Event::EnvelopeAdded { .. } if self.state().is_key_holder() => {
                if self.receive_chain_envelopes().await? > 0 {
                    self.sync().await?;
                }
                Ok(())
            }
            Event::ChainChanged { .. } | Event::EnvelopeAdded { .. } => Ok(()),
            // A browser waits for a console approval, or one was approved or ended: fetch
            // the list (browser, address, time; the code is only in the browser) and hand
            // it to the listener, so a prompt appears or goes.
            Event::ConsoleRequested { .. } | Event::ConsoleDecided { .. } if self.may_approve() => {
                self.console_sessions().await.map(|_| ())
            }
            Event::ConsoleRequested { .. } | Event::ConsoleDecided { .. } => Ok(()),
            Event::DeviceAdded { .. } | Event::DeviceDisabled { .. } => Ok(()),
        }
    }
}
