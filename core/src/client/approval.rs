//! "Trust this session?": the requester's side (number, phrase, QR; waiting on the event
//! stream with a polling fallback; receiving envelopes once) and the approver's side
//! (pending list, approve only with the matching number, approve by QR, deny).
//!
//! The approver keeps the first snapshot of each pending request it listed and seals to
//! exactly the public-key bytes it derived the check values from — a key the server
//! swaps in later is never used.

use std::time::Duration;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;
use vouch_proto::{
    ApprovalOpened, ApprovalPurpose, ApprovalState, ApprovalStatus, ApproveRequest, Bytes,
    Decision, DeviceKind, EnvelopeWire, ErrorCode, Event, PendingApproval,
};

use super::{Client, EnrollmentState, Verification, state::Tokens};
use crate::{
    crypto::{
        Envelope, EnvelopeContext, EnvelopeMode, PublicKey, QrPayload, QrSecret, VaultKey,
        check_values,
    },
    error::{Error, Result},
    store::now_ms,
};

const REQUESTER: &str = "requester";
const APPROVER: &str = "approver";
/// Polling interval when the event stream is unavailable, and the longest wait between
/// two checks while it is.
const POLL_INTERVAL: Duration = Duration::from_secs(3);

/// What the new device shows while it waits: the number, the phrase and the QR text.
#[derive(Clone, PartialEq, Eq)]
pub struct ApprovalPrompt {
    /// The open request.
    pub request_id: Uuid,
    /// Why: enrollment, or asking for vault keys.
    pub purpose: ApprovalPurpose,
    /// Two digits the approver must type ("07").
    pub number: String,
    /// Six words both screens show.
    pub phrase: String,
    /// `VOUCH1:…` text for the QR code (contains the QR secret: show, never log).
    pub qr_payload: String,
    /// When the request expires.
    pub expires_at: OffsetDateTime,
}

impl std::fmt::Debug for ApprovalPrompt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApprovalPrompt")
            .field("request_id", &self.request_id)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// A request as the approver sees it ("Trust this session?").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRequest {
    /// Request id.
    pub request_id: Uuid,
    /// Enrollment or key sharing.
    pub purpose: ApprovalPurpose,
    /// The new device's name.
    pub device_name: String,
    /// Its kind.
    pub device_kind: DeviceKind,
    /// Its platform text.
    pub platform: String,
    /// Where it asked from.
    pub origin: String,
    /// When it asked.
    pub created_at: OffsetDateTime,
    /// When the request expires.
    pub expires_at: OffsetDateTime,
    /// The phrase the new device shows (compare it; type the number).
    pub phrase: String,
}

/// The requester's persisted side of a request (sealed in the store).
#[derive(Serialize, Deserialize)]
struct RequesterRow {
    request_id: Uuid,
    user_id: Uuid,
    purpose: ApprovalPurpose,
    qr_secret: Bytes,
    #[serde(with = "vouch_proto::rfc3339")]
    expires_at: OffsetDateTime,
}

impl Client {
    /// Opens an approval request for this pending device and returns what to show.
    pub async fn start_approval(&self) -> Result<ApprovalPrompt> {
        let _t = self.inner.transition.lock().await;
        let (user, device_id, device_name) = self.verifying()?;
        let account = self.account_token()?;
        let opened: ApprovalOpened = self
            .inner
            .transport
            .post(
                &format!("/v1/devices/{device_id}/approval-requests"),
                Some(&account),
                &(),
            )
            .await?;
        let prompt = self.remember_request(opened, user.id, ApprovalPurpose::Enrollment)?;
        let state = EnrollmentState::Verifying {
            user,
            device_id,
            device_name,
            verification: Verification::Approval {
                request_id: prompt.request_id,
                expires_at: prompt.expires_at,
            },
        };
        self.persist(state, None)?;
        Ok(prompt)
    }

    /// For a device trusted by email code: asks a device that holds the vault keys to
    /// share them (the same number-matched prompt on the approver).
    pub async fn request_vault_keys(&self) -> Result<ApprovalPrompt> {
        let _t = self.inner.transition.lock().await;
        let EnrollmentState::Trusted {
            user, device_id, ..
        } = self.state()
        else {
            return Err(Error::InvalidState(
                "only a trusted device can ask for vault keys",
            ));
        };
        let token = self.device_token()?;
        let opened: ApprovalOpened = self
            .guard(
                self.inner
                    .transport
                    .post(
                        &format!("/v1/devices/{device_id}/approval-requests"),
                        Some(&token),
                        &(),
                    )
                    .await,
            )
            .await?;
        self.remember_request(opened, user.id, ApprovalPurpose::KeySharing)
    }

    fn remember_request(
        &self,
        opened: ApprovalOpened,
        user_id: Uuid,
        purpose: ApprovalPurpose,
    ) -> Result<ApprovalPrompt> {
        let secret = QrSecret::generate()?;
        let row = RequesterRow {
            request_id: opened.id,
            user_id,
            purpose,
            qr_secret: Bytes(secret.expose().to_vec()),
            expires_at: opened.expires_at,
        };
        let payload = crate::crypto::SecretBytes::new(
            serde_json::to_vec(&row).map_err(|_| Error::Protocol("encoding"))?,
        );
        let expires_ms = (opened.expires_at.unix_timestamp_nanos() / 1_000_000) as i64;
        // Keep only the newest request of this device.
        for (old, _) in self.inner.store.pending_approvals(REQUESTER)? {
            self.inner.store.delete_pending_approval(old)?;
        }
        self.inner
            .store
            .put_pending_approval(opened.id, REQUESTER, &payload, expires_ms)?;
        self.prompt_from(&row)
    }

    fn prompt_from(&self, row: &RequesterRow) -> Result<ApprovalPrompt> {
        let identity = self
            .inner
            .store
            .identity()?
            .ok_or(Error::InvalidState("no device identity"))?;
        let cv = check_values(identity.public_key(), &row.user_id, &row.request_id);
        let secret: [u8; 32] = row
            .qr_secret
            .0
            .as_slice()
            .try_into()
            .map_err(|_| Error::CorruptRow("pending_approvals"))?;
        let qr = QrPayload {
            request_id: row.request_id,
            key_hash: identity.public_key().hash(),
            secret: QrSecret::from_bytes(secret),
        };
        Ok(ApprovalPrompt {
            request_id: row.request_id,
            purpose: row.purpose,
            number: cv.number_text(),
            phrase: cv.phrase_text(),
            qr_payload: qr.encode().to_string(),
            expires_at: row.expires_at,
        })
    }

    fn requester_row(&self) -> Result<Option<RequesterRow>> {
        let rows = self.inner.store.pending_approvals(REQUESTER)?;
        match rows.into_iter().next() {
            Some((_, row)) => Ok(Some(
                serde_json::from_slice(&row.payload)
                    .map_err(|_| Error::CorruptRow("pending_approvals"))?,
            )),
            None => Ok(None),
        }
    }

    /// The prompt of the request this device is waiting on, if any (after a restart too).
    pub fn approval_prompt(&self) -> Result<Option<ApprovalPrompt>> {
        self.requester_row()?
            .map(|r| self.prompt_from(&r))
            .transpose()
    }

    /// Checks the request once. Returns the new state when it was decided (approved:
    /// keys stored and, for an enrollment, `Trusted`; denied; expired), `None` while pending.
    pub async fn check_approval(&self) -> Result<Option<EnrollmentState>> {
        let _t = self.inner.transition.lock().await;
        let Some(row) = self.requester_row()? else {
            return Err(Error::InvalidState(
                "no approval request is open on this device",
            ));
        };
        let token = match row.purpose {
            ApprovalPurpose::Enrollment => self.account_token()?,
            ApprovalPurpose::KeySharing => self.device_token()?,
        };
        let st: ApprovalState = self
            .guard(
                self.inner
                    .transport
                    .get(
                        &format!("/v1/approval-requests/{}", row.request_id),
                        Some(&token),
                    )
                    .await,
            )
            .await?;
        if st.id != row.request_id {
            return Err(Error::Protocol("answer for another request"));
        }
        match st.status {
            ApprovalStatus::Pending => Ok(None),
            ApprovalStatus::Approved => self.accept_approval(&row, st).map(Some),
            ApprovalStatus::Denied | ApprovalStatus::Expired => {
                self.inner.store.delete_pending_approval(row.request_id)?;
                let state = self.state();
                if row.purpose == ApprovalPurpose::KeySharing {
                    return Ok(Some(state));
                }
                let user = state
                    .user()
                    .cloned()
                    .ok_or(Error::InvalidState("not signed in"))?;
                let next = if st.status == ApprovalStatus::Denied {
                    EnrollmentState::Denied { user }
                } else {
                    EnrollmentState::Expired { user }
                };
                self.persist(next.clone(), None)?;
                Ok(Some(next))
            }
        }
    }

    /// Opens every envelope for our own pending request (once: the request row is removed
    /// in the same transaction that stores the keys) and moves to `Trusted`.
    fn accept_approval(&self, row: &RequesterRow, st: ApprovalState) -> Result<EnrollmentState> {
        let identity = self
            .inner
            .store
            .identity()?
            .ok_or(Error::InvalidState("no device identity"))?;
        let secret: [u8; 32] = row
            .qr_secret
            .0
            .as_slice()
            .try_into()
            .map_err(|_| Error::CorruptRow("pending_approvals"))?;
        let qr_secret = QrSecret::from_bytes(secret);
        let mut keys: Vec<(Uuid, VaultKey)> = Vec::new();
        let mut via_qr = st.via_qr;
        for e in &st.envelopes {
            let env = Envelope::from_bytes(&e.envelope.0)?;
            let psk = match env.mode() {
                EnvelopeMode::Qr => {
                    via_qr = true;
                    Some(&qr_secret)
                }
                EnvelopeMode::Base => None,
            };
            let ctx = EnvelopeContext {
                user_id: row.user_id,
                request_id: row.request_id,
                vault_id: e.vault_id,
            };
            keys.push((e.vault_id, env.open(&identity, &ctx, psk)?));
        }
        // A key for a vault this device already holds is never replaced: a different one
        // is refused and reported (an approver, or a server, choosing the key the device
        // seals its next items under would read them).
        let mut conflicts = 0;
        let mut fresh = Vec::with_capacity(keys.len());
        for (vault, key) in keys {
            match self.inner.store.vault_key(vault)? {
                Some(held) if !held.ct_eq(&key) => conflicts += 1,
                Some(_) => {}
                None => fresh.push((vault, key)),
            }
        }
        let keys = fresh;
        if conflicts > 0 {
            log::warn!("refused {conflicts} different key(s) for vaults this device holds");
            self.inner.store.audit(
                "key_conflict",
                &format!("{conflicts} different key(s) for held vaults refused"),
            )?;
        }
        let state = self.state();
        let (next, tokens) = match (row.purpose, &state) {
            (
                ApprovalPurpose::Enrollment,
                EnrollmentState::Verifying {
                    user,
                    device_id,
                    device_name,
                    ..
                },
            ) => {
                let device_token = st
                    .device_token
                    .clone()
                    .ok_or(Error::Protocol("approved without a device token"))?;
                let verified_by = if via_qr {
                    vouch_proto::VerifiedBy::QrApproval
                } else {
                    vouch_proto::VerifiedBy::Approval
                };
                let next = EnrollmentState::Trusted {
                    user: user.clone(),
                    device_id: *device_id,
                    device_name: device_name.clone(),
                    verified_by,
                    tier: vouch_proto::Tier::KeyHolder,
                };
                (
                    next,
                    Tokens {
                        account: self.account_token().ok(),
                        device: Some(device_token),
                    },
                )
            }
            (
                ApprovalPurpose::KeySharing,
                EnrollmentState::Trusted {
                    user,
                    device_id,
                    device_name,
                    verified_by,
                    ..
                },
            ) => (
                // A key holder's approval is the one way a tier changes.
                EnrollmentState::Trusted {
                    user: user.clone(),
                    device_id: *device_id,
                    device_name: device_name.clone(),
                    verified_by: *verified_by,
                    tier: vouch_proto::Tier::KeyHolder,
                },
                self.inner
                    .tokens
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone(),
            ),
            _ => {
                return Err(Error::InvalidState(
                    "the approval does not match this device's state",
                ));
            }
        };
        let state_json =
            serde_json::to_string(&next).map_err(|_| Error::Protocol("state encoding"))?;
        let secrets = crate::crypto::SecretBytes::new(
            serde_json::to_vec(&tokens).map_err(|_| Error::Protocol("encoding"))?,
        );
        self.inner.store.complete_approval(
            row.request_id,
            &keys,
            Some((&self.inner.server_url, &state_json, &secrets)),
        )?;
        self.inner.store.audit(
            "approval_accepted",
            &format!("{} vault key(s), qr={via_qr}", keys.len()),
        )?;
        self.commit_memory(next.clone(), tokens);
        if let Some(l) = &self.inner.listener {
            l.vaults_changed();
        }
        Ok(next)
    }

    /// Waits until the open request is decided: listens on the event stream and checks
    /// the request on every event, falling back to polling when the stream is down.
    /// Cancel by dropping the future (a Kotlin coroutine cancel does this).
    pub async fn wait_for_approval(&self) -> Result<EnrollmentState> {
        loop {
            if let Some(state) = self.check_approval().await? {
                return Ok(state);
            }
            let row = self
                .requester_row()?
                .ok_or(Error::InvalidState("no approval request is open"))?;
            let (token, query) = match (row.purpose, self.state().device_id()) {
                (ApprovalPurpose::Enrollment, Some(dev)) => {
                    (self.account_token()?, format!("?device_id={dev}"))
                }
                _ => (self.device_token()?, String::new()),
            };
            match self.inner.transport.events(&token, &query, None).await {
                Ok(mut stream) => loop {
                    match tokio::time::timeout(POLL_INTERVAL, stream.next()).await {
                        Ok(Some(Ok((_, Event::ApprovalDecided { request_id, .. }))))
                            if request_id == row.request_id =>
                        {
                            break;
                        }
                        Ok(Some(Ok(_))) => continue,
                        // Stream ended or failed, or nothing for a while: check by polling.
                        _ => break,
                    }
                },
                Err(Error::Offline) => tokio::time::sleep(POLL_INTERVAL).await,
                Err(e) => return Err(e),
            }
        }
    }

    // ---- approver ------------------------------------------------------------------------

    fn require_approver(&self) -> Result<()> {
        if !self.inner.device.kind.can_approve() {
            return Err(Error::InvalidState(
                "browser extensions cannot approve devices",
            ));
        }
        // Only a key holder approves (Trust v2): an email-only device's envelopes would
        // hold keys of its own choosing.
        self.require_key_holder_device()
    }

    /// Fetches the pending requests and returns what to show. A request seen before keeps
    /// its first snapshot (key and all), whatever the server says now.
    pub async fn pending_requests(&self) -> Result<Vec<PendingRequest>> {
        self.require_approver()?;
        let token = self.device_token()?;
        let listed: Vec<PendingApproval> = self
            .guard(
                self.inner
                    .transport
                    .get("/v1/approval-requests?status=pending", Some(&token))
                    .await,
            )
            .await?;
        let known: std::collections::HashSet<Uuid> = self
            .inner
            .store
            .pending_approvals(APPROVER)?
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        let live: std::collections::HashSet<Uuid> = listed.iter().map(|p| p.id).collect();
        for p in &listed {
            if !known.contains(&p.id) {
                let payload = serde_json::to_vec(p).map_err(|_| Error::Protocol("encoding"))?;
                let exp = (p.expires_at.unix_timestamp_nanos() / 1_000_000) as i64;
                self.inner
                    .store
                    .put_pending_approval(p.id, APPROVER, &payload, exp)?;
            }
        }
        for id in known.difference(&live) {
            self.inner.store.delete_pending_approval(*id)?;
        }
        let views = self
            .snapshots()?
            .into_iter()
            .map(|s| view(&s))
            .collect::<Vec<_>>();
        if let Some(l) = &self.inner.listener {
            l.pending_approvals_changed(views.clone());
        }
        Ok(views)
    }

    fn snapshots(&self) -> Result<Vec<PendingApproval>> {
        self.inner
            .store
            .pending_approvals(APPROVER)?
            .into_iter()
            .filter(|(_, row)| row.expires_at_ms > now_ms())
            .map(|(_, row)| {
                serde_json::from_slice(&row.payload)
                    .map_err(|_| Error::CorruptRow("pending_approvals"))
            })
            .collect()
    }

    fn snapshot(&self, request_id: Uuid) -> Result<PendingApproval> {
        let row = self
            .inner
            .store
            .pending_approval(request_id)?
            .filter(|r| r.role == APPROVER)
            .ok_or(Error::UnknownRequest)?;
        serde_json::from_slice(&row.payload).map_err(|_| Error::CorruptRow("pending_approvals"))
    }

    /// Approves a listed request with the number the user typed. The number must match
    /// the one derived from the snapshot's key; otherwise nothing is sent
    /// ([`Error::WrongNumber`]). Every vault key this device holds is sealed to exactly
    /// that key.
    pub async fn approve(&self, request_id: Uuid, typed_number: &str) -> Result<()> {
        self.require_approver()?;
        let snap = self.snapshot(request_id)?;
        let key = self.snapshot_key(&snap)?;
        if !check_values(&key, &snap.user_id, &snap.id).matches_number(typed_number) {
            self.inner
                .store
                .audit("approval_refused", "wrong number typed")?;
            return Err(Error::WrongNumber);
        }
        self.send_approval(&snap, &key, None).await
    }

    /// Approves by the scanned QR text: the code must name this request and its key hash
    /// must match the snapshot's key ([`Error::KeyMismatch`] otherwise); envelopes are
    /// sealed in PSK mode with the QR secret.
    pub async fn approve_qr(&self, qr_text: &str) -> Result<()> {
        self.require_approver()?;
        let qr = QrPayload::decode(qr_text)?;
        if self.snapshot(qr.request_id).is_err() {
            self.pending_requests().await?;
        }
        let snap = self.snapshot(qr.request_id)?;
        let key = self.snapshot_key(&snap)?;
        if !qr.names_key(&key) {
            self.inner
                .store
                .audit("approval_refused", "QR key hash does not match")?;
            return Err(Error::KeyMismatch);
        }
        self.send_approval(&snap, &key, Some(&qr.secret)).await
    }

    fn snapshot_key(&self, snap: &PendingApproval) -> Result<PublicKey> {
        let me = self.state().user().map(|u| u.id);
        if me != Some(snap.user_id) {
            return Err(Error::Protocol("a request of another user was listed"));
        }
        PublicKey::from_bytes(&snap.device.public_key.0)
    }

    async fn send_approval(
        &self,
        snap: &PendingApproval,
        key: &PublicKey,
        psk: Option<&QrSecret>,
    ) -> Result<()> {
        let token = self.device_token()?;
        let mut envelopes = Vec::new();
        for v in self.inner.store.vaults()?.into_iter().filter(|v| v.has_key) {
            let Some(vault_key) = self.inner.store.vault_key(v.id)? else {
                continue;
            };
            let ctx = EnvelopeContext {
                user_id: snap.user_id,
                request_id: snap.id,
                vault_id: v.id,
            };
            let env = Envelope::seal(&vault_key, key, &ctx, psk)?;
            envelopes.push(EnvelopeWire {
                vault_id: v.id,
                envelope: Bytes(env.as_bytes().to_vec()),
            });
        }
        // Vaults created offline must exist on the server before their envelopes.
        let _ = self.flush(false).await;
        let body = ApproveRequest {
            envelopes,
            via_qr: psk.is_some(),
        };
        let r: Result<Decision> = self
            .guard(
                self.inner
                    .transport
                    .post(
                        &format!("/v1/approval-requests/{}/approve", snap.id),
                        Some(&token),
                        &body,
                    )
                    .await,
            )
            .await;
        self.settle(snap.id, r.map(|_| ()))
    }

    /// Denies a request (always possible while it is pending).
    pub async fn deny(&self, request_id: Uuid) -> Result<()> {
        self.require_approver()?;
        let token = self.device_token()?;
        let r: Result<Decision> = self
            .guard(
                self.inner
                    .transport
                    .post(
                        &format!("/v1/approval-requests/{request_id}/deny"),
                        Some(&token),
                        &(),
                    )
                    .await,
            )
            .await;
        self.settle(request_id, r.map(|_| ()))
    }

    fn settle(&self, request_id: Uuid, r: Result<()>) -> Result<()> {
        let finished = match &r {
            Ok(()) => true,
            Err(Error::Server { code, .. }) => matches!(
                code,
                ErrorCode::AlreadyDecided | ErrorCode::RequestExpired | ErrorCode::NotFound
            ),
            Err(_) => false,
        };
        if finished {
            self.inner.store.delete_pending_approval(request_id)?;
            let views = self.snapshots()?.iter().map(view).collect::<Vec<_>>();
            if let Some(l) = &self.inner.listener {
                l.pending_approvals_changed(views);
            }
        }
        if r.is_ok() {
            self.inner
                .store
                .audit("approval_decided", &request_id.to_string())?;
        }
        r
    }
}

fn view(p: &PendingApproval) -> PendingRequest {
    let phrase = PublicKey::from_bytes(&p.device.public_key.0)
        .map(|k| check_values(&k, &p.user_id, &p.id).phrase_text())
        .unwrap_or_default();
    PendingRequest {
        request_id: p.id,
        purpose: p.purpose,
        device_name: p.device.name.clone(),
        device_kind: p.device.kind,
        platform: p.device.platform.clone(),
        origin: p.origin.clone(),
        created_at: p.created_at,
        expires_at: p.expires_at,
        phrase,
    }
}
