//! What a device does when the server says it was disabled (DESIGN rule 6, with the vouch
//! chain): a device that holds vault keys shreds them only on a revocation of itself that
//! it verified on the chain; on the server's word alone it *locks* — it keeps its keys and
//! items, uses none of them, and asks again at its next sync. A server (or anyone in the
//! middle) therefore cannot destroy a user's only copy of a vault by answering
//! `device_disabled`. A device that holds no vault key (email-only, or not yet trusted)
//! has nothing to keep and wipes at once, as before.

use std::sync::atomic::Ordering;

use vouch_proto::{
    ErrorCode,
    chain::{Chain, ChainLinks, Head, Link},
    routes,
};

use super::Client;
use crate::error::{Error, Result};

/// The setting that keeps a lock across restarts ("1" while locked).
const LOCKED: &str = "device.locked";

/// Whether verified links are kept as this device's view of the chain.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Keep {
    /// Kept: the device's head moves.
    Yes,
    /// Only checked.
    No,
}

/// What the chain says of this device, once it was told it is disabled.
enum Verdict {
    /// A live key holder signed a revocation of this device: shred.
    Revoked,
    /// No verified revocation (none yet, a chain that does not verify, or no answer).
    Unproven,
}

impl Client {
    /// Whether this device is locked: the server says it was disabled, but no revocation
    /// of it verified on the chain (its keys are kept and unused).
    pub fn is_locked(&self) -> bool {
        self.inner.locked.load(Ordering::SeqCst)
    }

    /// Reads the persisted lock (at open).
    pub(super) fn load_lock(store: &crate::store::Store) -> Result<bool> {
        Ok(store.setting(LOCKED)?.as_deref() == Some("1"))
    }

    /// Refuses vault use while locked.
    pub(super) fn require_unlocked(&self) -> Result<()> {
        if self.is_locked() {
            Err(Error::Locked)
        } else {
            Ok(())
        }
    }

    /// Called when the server answers `device_disabled`: shreds (returning
    /// [`Error::Wiped`]) when this device holds no vault key or the verified chain revokes
    /// it; otherwise locks and returns [`Error::Locked`].
    pub(super) async fn on_disabled(&self) -> Error {
        if !self.state().is_key_holder() {
            return self.wipe_now().err().unwrap_or(Error::Wiped);
        }
        match self.disabled_verdict().await {
            Verdict::Revoked => self.wipe_now().err().unwrap_or(Error::Wiped),
            Verdict::Unproven => {
                if let Err(e) = self.set_locked(true) {
                    return e;
                }
                Error::Locked
            }
        }
    }

    /// A locked device asks the server again before anything else: still disabled, it
    /// looks for a verified revocation again (and shreds on one); unlocked only when the
    /// server lists this device as trusted again and the chain does not revoke it — not
    /// on any answer at all.
    pub(super) async fn recheck_lock(&self) -> Result<()> {
        if !self.is_locked() {
            return Ok(());
        }
        let me = self.state().device_id();
        // Not the chain: a disabled device may still read that.
        let devices = self.devices().await?;
        let listed_trusted = devices
            .iter()
            .any(|d| Some(d.id) == me && d.status == vouch_proto::DeviceStatus::Trusted);
        if !listed_trusted {
            return Err(Error::Locked);
        }
        if let Verdict::Revoked = self.disabled_verdict().await {
            return Err(self.wipe_now().err().unwrap_or(Error::Wiped));
        }
        log::info!("the server lists this device as trusted again: unlocked");
        self.set_locked(false)
    }

    fn set_locked(&self, locked: bool) -> Result<()> {
        if self.is_locked() == locked {
            return Ok(());
        }
        self.inner
            .store
            .set_setting(LOCKED, if locked { "1" } else { "0" })?;
        self.inner.locked.store(locked, Ordering::SeqCst);
        if locked {
            log::warn!(
                "the server says this device was disabled, but no key holder's revocation of it verifies: its keys are kept, locked"
            );
            self.inner.store.audit(
                "locked",
                "disabled on the server's word; no verified revocation",
            )?;
        }
        if let Some(l) = &self.inner.listener {
            l.vaults_changed();
        }
        Ok(())
    }

    /// Reads the chain with this (disabled) device's token, which the server still lets
    /// read it, and checks it from the head this device verified before.
    async fn disabled_verdict(&self) -> Verdict {
        let (Ok(token), Some(me), Ok(user)) = (
            self.device_token(),
            self.state().device_id(),
            self.chain_user(),
        ) else {
            return Verdict::Unproven;
        };
        let got: Result<ChainLinks> = self.inner.transport.get(routes::CHAIN, Some(&token)).await;
        let links: Option<Vec<Link>> = got
            .ok()
            .and_then(|got| got.links.iter().map(|b| Link::decode(&b.0).ok()).collect());
        let Some(links) = links else {
            return Verdict::Unproven;
        };
        // Verified, not kept: a locked device does not move its head on what it was
        // served while the server says it is disabled.
        match self.verify_fetched(user, &links, Keep::No) {
            Ok(Some(chain)) if chain.member(me).is_some_and(|m| !m.is_live()) => Verdict::Revoked,
            Ok(_) => Verdict::Unproven,
            Err(e) => {
                log::warn!("a disabled device was sent a chain that does not verify: {e}");
                Verdict::Unproven
            }
        }
    }

    /// Verifies fetched links from the head this device verified before (from the root
    /// when it never saw one) and, with [`Keep::Yes`], keeps the new ones. `None` for an
    /// empty chain.
    pub(super) fn verify_fetched(
        &self,
        user: uuid::Uuid,
        links: &[Link],
        keep: Keep,
    ) -> Result<Option<Chain>> {
        let local = self.inner.store.chain_links()?;
        if links.is_empty() {
            return if local.is_empty() {
                Ok(None)
            } else {
                Err(self.refuse(vouch_proto::chain::ChainError::Rollback))
            };
        }
        let verified = match local.last() {
            Some(known) => Chain::verify_extension(
                user,
                links,
                Head {
                    seq: known.seq,
                    hash: known.hash(),
                },
            ),
            None => Chain::verify(user, links),
        }
        .map_err(|e| self.refuse(e))?;
        if keep == Keep::Yes && links.len() > local.len() {
            self.inner
                .store
                .apply(&[crate::store::Change::ChainLinks(&links[local.len()..])])?;
        }
        Ok(Some(verified))
    }
}

/// Whether a server error says this device was disabled.
pub(super) fn is_disabled(e: &Error) -> bool {
    matches!(
        e,
        Error::Server {
            code: ErrorCode::DeviceDisabled,
            ..
        }
    )
}
