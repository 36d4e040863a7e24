//! "Trust this session?" from the new device's side (Trust v2, docs/TRUST_V2.md): it opens
//! a request, makes its own 6-digit code and QR secret, answers an approver's PAKE run
//! with them, and accepts the payload only after the approver's MAC verifies.
//!
//! **It counts on its own.** Every answer is counted in the store before it is sent; a
//! code answers at most [`RUNS_PER_CODE`] runs and lives [`CODE_LIFETIME_MS`] on this
//! device's clock, whatever the server says; after that only [`Client::new_code`] (the
//! person asks) makes another. So a relay that ignores failures, or answers "expired" to
//! make the device start over, gets at most three online guesses per code the person
//! asked for.

use std::time::Duration;
use vouch_proto::routes;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;
use vouch_proto::{
    AckRequest, AckResult, ApprovalOpened, ApprovalPurpose, ApprovalRun, ApprovalState,
    ApprovalStatus, Bytes, Decision, Device, Event, PakeSecret, RunResponse, Tier,
};
use zeroize::Zeroizing;

use super::{Client, EnrollmentState, Verification, state::Tokens};
use crate::{
    chain::{Chain, Head, Link, LinkBody, Member, Role, vouch_claim},
    crypto::{
        ApprovalCode, ApprovalPayload, CODE_DIGITS, Descriptor, EnvelopeContext, EnvelopePurpose,
        PakePassword, PublicKey, QrPayload, QrSecret, RequesterRun, RunContext, SecretBytes,
    },
    error::{Error, Result},
    store::{ApprovalSide, Change, now_ms},
};

pub(super) const REQUESTER: ApprovalSide = ApprovalSide::Requester;
/// Runs one code answers (then the person asks for a new code).
pub const RUNS_PER_CODE: u32 = 3;
/// How long a code lives on the new device's own clock.
pub const CODE_LIFETIME_MS: i64 = 10 * 60 * 1000;
/// Polling interval when the event stream is unavailable, and the longest wait between
/// two checks while it is.
const POLL_INTERVAL: Duration = Duration::from_secs(3);

/// What the new device shows while it waits: the code and the QR text.
#[derive(Clone, PartialEq, Eq)]
pub struct ApprovalPrompt {
    /// The open request.
    pub request_id: Uuid,
    /// Why: enrollment, key sharing, or a new first key holder.
    pub purpose: ApprovalPurpose,
    /// The 6-digit code, grouped ("482 913"): show it, never log it.
    pub code: String,
    /// `VOUCH2:…` text for the QR code (contains the QR secret: show, never log).
    pub qr_payload: String,
    /// When the code stops working on this device (10 minutes on its own clock, or the
    /// request's expiry if sooner).
    pub expires_at: OffsetDateTime,
    /// Runs this code still answers.
    pub runs_left: u32,
}

impl std::fmt::Debug for ApprovalPrompt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApprovalPrompt")
            .field("request_id", &self.request_id)
            .field("purpose", &self.purpose)
            .field("runs_left", &self.runs_left)
            .finish_non_exhaustive()
    }
}

/// The new device's persisted side of a request (sealed in the store).
#[derive(Serialize, Deserialize)]
struct RequesterRow {
    request_id: Uuid,
    user_id: Uuid,
    purpose: ApprovalPurpose,
    /// This device as the server recorded it at the open (bound in the transcript).
    device: Device,
    code: String,
    qr_secret: Bytes,
    /// When the code was made, on this device's clock (ms).
    made_at_ms: i64,
    #[serde(with = "vouch_proto::rfc3339")]
    expires_at: OffsetDateTime,
    /// Runs answered with this code (counted before each answer is sent).
    runs_answered: u32,
    /// The run answered last, its keys and the approver's key bundle it was bound to.
    run: Option<Uuid>,
    run_keys: Option<Bytes>,
    approver_bundle: Option<Bytes>,
    /// The answer to that run (public PAKE message and MAC), to resend if it was lost.
    #[serde(default)]
    answer: Option<(Bytes, Bytes)>,
    /// The payload opened and its keys stored; the acknowledgement may still be owed.
    opened: bool,
}

impl RequesterRow {
    fn used_up(&self) -> bool {
        now_ms() - self.made_at_ms > CODE_LIFETIME_MS || self.runs_answered >= RUNS_PER_CODE
    }

    fn code(&self) -> Result<ApprovalCode> {
        let d: [u8; CODE_DIGITS] = self
            .code
            .as_bytes()
            .try_into()
            .map_err(|_| Error::CorruptRow("pending_approvals"))?;
        ApprovalCode::from_digits(d)
    }

    fn qr_secret(&self) -> Result<QrSecret> {
        let s: [u8; 32] = self
            .qr_secret
            .0
            .as_slice()
            .try_into()
            .map_err(|_| Error::CorruptRow("pending_approvals"))?;
        Ok(QrSecret::from_bytes(s))
    }

    fn descriptor(&self) -> Descriptor {
        descriptor_of(&self.device)
    }

    fn encode(&self) -> Result<SecretBytes> {
        Ok(SecretBytes::new(
            serde_json::to_vec(self).map_err(|_| Error::Internal("encoding"))?,
        ))
    }
}

/// The descriptor of a device as the server reports it (what the QR hashes and the
/// transcript binds).
pub(super) fn descriptor_of(d: &Device) -> Descriptor {
    Descriptor {
        name: d.name.clone(),
        kind: vouch_proto::enum_name(&d.kind),
        platform: d.platform.clone(),
        origin: d.origin.clone(),
    }
}

impl Client {
    /// Opens an approval request for this pending device (to `enroll`, or `new_root` when
    /// the user has no key holder left) and returns what to show: a fresh code and QR.
    /// Nobody can approve the user's first device: then this fails with
    /// `Error::Server { code: EmailCodeRequired }` and [`Client::start_verification`] takes
    /// the email path by itself.
    pub async fn start_approval(&self) -> Result<ApprovalPrompt> {
        let _t = self.inner.transition.lock().await;
        let (user, device_id, device_name) = self.verifying()?;
        let account = self.account_token()?;
        let opened: ApprovalOpened = self
            .inner
            .transport
            .post(&self.open_path(device_id)?, Some(&account), &())
            .await?;
        let prompt = self.remember_request(opened, user.id)?;
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

    /// For an email-only device: asks a key holder to share the vault keys (and make it a
    /// key holder), with the same code on this screen and the same prompt on theirs.
    pub async fn request_vault_keys(&self) -> Result<ApprovalPrompt> {
        let _t = self.inner.transition.lock().await;
        let EnrollmentState::Trusted {
            user,
            device_id,
            tier,
            ..
        } = self.state()
        else {
            return Err(Error::InvalidState(
                "only a trusted device can ask for vault keys",
            ));
        };
        if tier == Tier::KeyHolder {
            return Err(Error::InvalidState("this device already holds the keys"));
        }
        let token = self.device_token()?;
        let opened: ApprovalOpened = self
            .guard(
                self.inner
                    .transport
                    .post(&self.open_path(device_id)?, Some(&token), &())
                    .await,
            )
            .await?;
        self.remember_request(opened, user.id)
    }

    /// The person asks for a new code: the open request is cancelled and a fresh one
    /// opened, with a new code and QR and a fresh count of three runs.
    pub async fn new_code(&self) -> Result<ApprovalPrompt> {
        if self.state().is_trusted() {
            return self.request_vault_keys().await;
        }
        self.start_approval().await
    }

    /// Cancels a request on the server (whatever it says: gone, decided) and forgets it.
    async fn cancel_request(&self, row: &RequesterRow) -> Result<()> {
        let token = self.request_token(row.purpose)?;
        let r: Result<Decision> = self
            .inner
            .transport
            .post(
                &routes::fill(routes::APPROVAL_CANCEL, &[&row.request_id]),
                Some(&token),
                &(),
            )
            .await;
        match r {
            Ok(_) | Err(Error::Server { .. }) => {}
            Err(e) => return Err(e),
        }
        self.inner.store.delete_pending_approval(row.request_id)
    }

    /// Gives up this device's open request. A device that was setting up gives its
    /// registration back too (the server frees its name and its place under the device
    /// limit at once) and is `Untrusted` again: setup starts over, by approval or email.
    /// An email-only device asking for keys stays as it is.
    pub async fn cancel_approval(&self) -> Result<()> {
        let _t = self.inner.transition.lock().await;
        let Some(row) = self.requester_row()? else {
            return Ok(());
        };
        self.cancel_request(&row).await?;
        if let EnrollmentState::Verifying { user, .. } = self.state() {
            self.persist(
                EnrollmentState::Untrusted {
                    user,
                    reminded_later: false,
                },
                None,
            )?;
        }
        Ok(())
    }

    /// Where a request is opened; with `replace` when this device shows a code for a
    /// request still open (a new code is a new request — a fresh count on both sides —
    /// and the server swaps them in one step, so the device keeps its registration).
    fn open_path(&self, device_id: Uuid) -> Result<String> {
        let replace = self.requester_row()?.is_some_and(|row| !row.opened);
        Ok(format!(
            "{}{}",
            routes::fill(routes::DEVICE_APPROVAL_REQUESTS, &[&device_id]),
            if replace { "?replace=true" } else { "" }
        ))
    }

    fn request_token(&self, purpose: ApprovalPurpose) -> Result<String> {
        match (purpose, self.state().is_trusted()) {
            (ApprovalPurpose::ShareKeys, _) | (ApprovalPurpose::NewRoot, true) => {
                self.device_token()
            }
            _ => self.account_token(),
        }
    }

    fn remember_request(&self, opened: ApprovalOpened, user_id: Uuid) -> Result<ApprovalPrompt> {
        let identity = self
            .inner
            .store
            .identity()?
            .ok_or(Error::InvalidState("no device identity"))?;
        // The server must have recorded this very device and key, as this device named it.
        let mine = self.state().device_id();
        let d = &opened.device;
        if Some(d.id) != mine
            || d.user_id != user_id
            || d.kind != self.inner.device.kind
            || PublicKey::from_bundle(&d.key_bundle.0)? != *identity.public_key()
        {
            return Err(Error::Protocol("the request names another device"));
        }
        let code = ApprovalCode::generate()?;
        let qr = QrSecret::generate()?;
        let row = RequesterRow {
            request_id: opened.id,
            user_id,
            purpose: opened.purpose,
            device: opened.device,
            code: code.grouped().replace(' ', ""),
            qr_secret: Bytes(qr.expose().to_vec()),
            made_at_ms: now_ms(),
            expires_at: opened.expires_at,
            runs_answered: 0,
            run: None,
            run_keys: None,
            approver_bundle: None,
            answer: None,
            opened: false,
        };
        let expires_ms = (opened.expires_at.unix_timestamp_nanos() / 1_000_000) as i64;
        // Keep only the newest request of this device.
        for (old, _) in self.inner.store.pending_approvals(REQUESTER)? {
            self.inner.store.delete_pending_approval(old)?;
        }
        self.inner
            .store
            .put_pending_approval(opened.id, REQUESTER, &row.encode()?, expires_ms)?;
        self.inner
            .store
            .audit("approval_requested", &opened.id.to_string())?;
        prompt_from(&row)
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
    /// `runs_left == 0` or a past `expires_at` means the person should ask for a new code.
    pub fn approval_prompt(&self) -> Result<Option<ApprovalPrompt>> {
        self.requester_row()?.map(|r| prompt_from(&r)).transpose()
    }

    /// Checks the request once: answers a new run (counted first), accepts a confirmed
    /// payload, or follows a decision. Returns the new state when it was decided
    /// (completed: keys stored and trusted; denied; expired; cancelled), `None` while it
    /// is still open.
    pub async fn check_approval(&self) -> Result<Option<EnrollmentState>> {
        let _t = self.inner.transition.lock().await;
        let Some(mut row) = self.requester_row()? else {
            return Err(Error::InvalidState(
                "no approval request is open on this device",
            ));
        };
        let token = self.request_token(row.purpose)?;
        if row.opened {
            return self.acknowledge(&row, &token, true).await.map(Some);
        }
        let st: ApprovalState = self
            .guard(
                self.inner
                    .transport
                    .get(
                        &routes::fill(routes::APPROVAL_REQUEST, &[&row.request_id]),
                        Some(&token),
                    )
                    .await,
            )
            .await?;
        if st.id != row.request_id {
            return Err(Error::Protocol("answer for another request"));
        }
        match st.status {
            ApprovalStatus::Pending => {
                let live = st.run.as_ref().is_some_and(|r| !r.aborted);
                if let Some(run) = st.run {
                    self.answer_run(&mut row, &token, run).await?;
                }
                // Three runs answered (or ten minutes gone) and none still live: the
                // code is dead; say so now instead of showing it until the request expires.
                if row.used_up() && !live {
                    return Err(Error::CodeUsedUp);
                }
                Ok(None)
            }
            ApprovalStatus::Approved => self.accept(&mut row, &token, st.run).await,
            ApprovalStatus::Completed if row.opened => {
                self.acknowledge(&row, &token, true).await.map(Some)
            }
            _ => self.finish_unapproved(&row, st.status).map(Some),
        }
    }

    /// Answers a run this device has not seen, if its code may still answer.
    async fn answer_run(
        &self,
        row: &mut RequesterRow,
        token: &str,
        run: ApprovalRun,
    ) -> Result<()> {
        if run.aborted || run.msg_b.is_some() {
            return Ok(());
        }
        if Some(run.id) == row.run {
            // Counted, but the answer may never have left (killed in between): send the
            // stored answer again — the same bytes, so no new guess.
            if let Some((msg_b, mac_b)) = row.answer.clone() {
                let sig = self.reverse_sig(row, run.approver.id)?;
                self.send_answer(row.request_id, run.id, token, msg_b, mac_b, sig)
                    .await?;
            }
            return Ok(());
        }
        if row.used_up() {
            // Refuse it visibly for the approver; the person asks for a new code here.
            let _ = self.abort_run(row.request_id, run.id, token).await;
            return Err(Error::CodeUsedUp);
        }
        let code = row.code()?;
        let qr = row.qr_secret()?;
        let password = match run.secret {
            PakeSecret::Code => PakePassword::Code(&code),
            PakeSecret::Qr => PakePassword::Qr(&qr),
        };
        let ctx = RunContext {
            purpose: vouch_proto::enum_name(&row.purpose),
            user_id: row.user_id,
            request_id: row.request_id,
            requester_id: row.device.id,
            approver_id: run.approver.id,
            requester_bundle: row.device.key_bundle.0.clone(),
            approver_bundle: run.approver.key_bundle.0.clone(),
            descriptor: row.descriptor(),
        };
        let (keys, answer) = RequesterRun::answer(password, &ctx, &run.msg_a.0)?;
        // Counted (and the run's keys kept) before the answer leaves the device: a crash
        // after sending cannot give the relay a free guess.
        row.runs_answered += 1;
        row.run = Some(run.id);
        row.run_keys = Some(Bytes(keys.to_bytes().to_vec()));
        row.approver_bundle = Some(run.approver.key_bundle.clone());
        let (msg_b, mac_b) = (Bytes(answer.msg_b), Bytes(answer.mac_b.to_vec()));
        row.answer = Some((msg_b.clone(), mac_b.clone()));
        self.save_row(row)?;
        let sig = self.reverse_sig(row, run.approver.id)?;
        self.send_answer(row.request_id, run.id, token, msg_b, mac_b, sig)
            .await
    }

    /// This device's counter-signature of the vouch `approver` will sign for it: that it
    /// joins the user's chain with its own keys on that approver's word.
    fn reverse_sig(&self, row: &RequesterRow, approver: Uuid) -> Result<Bytes> {
        let identity = self
            .inner
            .store
            .identity()?
            .ok_or(Error::InvalidState("no device identity"))?;
        let me = Member {
            id: row.device.id,
            role: Role::Device,
            x25519: *identity.public_key().as_bytes(),
            ed25519: identity.signing_key().public(),
        };
        let claim = vouch_claim(row.user_id, &me, approver);
        Ok(Bytes(identity.signing_key().sign(&claim).to_vec()))
    }

    async fn send_answer(
        &self,
        request_id: Uuid,
        run: Uuid,
        token: &str,
        msg_b: Bytes,
        mac_b: Bytes,
        reverse_sig: Bytes,
    ) -> Result<()> {
        let r: Result<Decision> = self
            .guard(
                self.inner
                    .transport
                    .post(
                        &routes::fill(routes::APPROVAL_RUN_RESPONSE, &[&request_id, &run]),
                        Some(token),
                        &RunResponse {
                            msg_b,
                            mac_b,
                            reverse_sig: Some(reverse_sig),
                        },
                    )
                    .await,
            )
            .await;
        match r {
            // Already answered (a resend after a lost answer): fine.
            Err(Error::Server {
                code: vouch_proto::ErrorCode::AlreadyDecided,
                ..
            }) => Ok(()),
            other => other.map(|_| ()),
        }
    }

    fn save_row(&self, row: &RequesterRow) -> Result<()> {
        self.inner.store.apply(&[Change::PendingApproval {
            request_id: row.request_id,
            payload: &row.encode()?,
        }])
    }

    async fn abort_run(&self, request_id: Uuid, run: Uuid, token: &str) -> Result<()> {
        let _: Decision = self
            .inner
            .transport
            .post(
                &routes::fill(routes::APPROVAL_RUN_ABORT, &[&request_id, &run]),
                Some(token),
                &(),
            )
            .await?;
        Ok(())
    }

    /// The approver confirmed a run: accept its payload only for the run this device
    /// answered, only after the approver's MAC verifies, and only in mode_auth_psk from
    /// the approver key bound in that run.
    async fn accept(
        &self,
        row: &mut RequesterRow,
        token: &str,
        run: Option<ApprovalRun>,
    ) -> Result<Option<EnrollmentState>> {
        let run = run.ok_or(Error::Protocol("approved without a run"))?;
        let (Some(answered), Some(keys), Some(approver_bundle)) =
            (row.run, row.run_keys.as_ref(), row.approver_bundle.as_ref())
        else {
            return Err(Error::Protocol("approved a run this device never answered"));
        };
        if run.id != answered {
            return Err(Error::Protocol("approved a run this device never answered"));
        }
        let keys = RequesterRun::from_bytes(&Zeroizing::new(keys.0.clone()))?;
        let (Some(mac_a), Some(payload)) = (run.mac_a.as_ref(), run.payload.as_ref()) else {
            return Err(Error::Protocol("approved without a MAC or payload"));
        };
        if keys.confirm(&mac_a.0).is_err() {
            log::warn!("the approver's MAC did not verify; run refused");
            self.inner
                .store
                .audit("approval_refused", "approver MAC did not verify")?;
            let _ = self.abort_run(row.request_id, run.id, token).await;
            return Ok(None);
        }
        match self.open_payload(row, &keys, approver_bundle, &payload.0) {
            Ok((received, chain)) => {
                let mut changes: Vec<Change<'_>> = Vec::with_capacity(received.len() + 2);
                if !chain.is_empty() {
                    changes.push(Change::ChainLinks(&chain));
                }
                for (vault_id, epoch, key) in &received {
                    changes.push(Change::VaultKey {
                        vault_id: *vault_id,
                        epoch: *epoch,
                        key,
                    });
                }
                row.opened = true;
                let encoded = row.encode()?;
                changes.push(Change::PendingApproval {
                    request_id: row.request_id,
                    payload: &encoded,
                });
                // The keys and "opened" land together; the acknowledgement follows.
                self.inner.store.apply(&changes)?;
                self.inner.store.audit(
                    "approval_opened",
                    &format!("{} vault key(s)", received.len()),
                )?;
                self.acknowledge(row, token, true).await.map(Some)
            }
            Err(e) => {
                log::warn!("the approval payload could not be used: {e}");
                self.inner.store.audit("approval_failed", &e.to_string())?;
                let _ = self.acknowledge(row, token, false).await;
                Err(e)
            }
        }
    }

    /// Opens every envelope of the payload; refuses keys for vaults this device already
    /// holds under a different key, and any envelope at all for `new_root`. Verifies the
    /// vouch chain it carries (see [`Self::verify_handed_chain`]) and returns its links.
    #[allow(clippy::type_complexity)]
    fn open_payload(
        &self,
        row: &RequesterRow,
        keys: &RequesterRun,
        approver_bundle: &Bytes,
        payload: &[u8],
    ) -> Result<(Vec<(Uuid, u32, crate::crypto::VaultKey)>, Vec<Link>)> {
        let payload = ApprovalPayload::open(keys, payload)?;
        if row.purpose == ApprovalPurpose::NewRoot
            && (!payload.envelopes.is_empty() || !payload.chain.is_empty())
        {
            return Err(Error::MalformedPayload);
        }
        let identity = self
            .inner
            .store
            .identity()?
            .ok_or(Error::InvalidState("no device identity"))?;
        let chain = self.verify_handed_chain(row, &identity, approver_bundle, &payload.chain)?;
        let sender = PublicKey::from_bundle(&approver_bundle.0)?;
        let mut out = Vec::with_capacity(payload.envelopes.len());
        let mut conflicts = 0;
        for e in &payload.envelopes {
            let ctx = EnvelopeContext {
                purpose: EnvelopePurpose::Approval,
                user_id: row.user_id,
                request_id: row.request_id,
                vault_id: e.vault_id,
                epoch: e.epoch,
            };
            let key = e.envelope.open(&identity, &sender, keys.psk(), &ctx)?;
            match self.inner.store.vault_key(e.vault_id, e.epoch)? {
                Some(held) if !held.ct_eq(&key) => conflicts += 1,
                Some(_) => {}
                None => out.push((e.vault_id, e.epoch, key)),
            }
        }
        if conflicts > 0 {
            // A held key is never replaced: the different one is refused and reported.
            log::warn!("refused {conflicts} different key(s) for vaults this device holds");
            self.inner.store.audit(
                "key_conflict",
                &format!("{conflicts} different key(s) for held vaults refused"),
            )?;
        }
        Ok((out, chain))
    }

    /// The chain an approval hands over must verify from its root, contain the chain this
    /// device verified before (if any), and end with the approver's vouch for exactly this
    /// device and its keys, signed by the signing key bound in the run (the approver's
    /// bundle the PAKE authenticated). An approver without a signing key (registered
    /// before the chain) hands none. Returns the links this device does not have yet.
    fn verify_handed_chain(
        &self,
        row: &RequesterRow,
        identity: &crate::crypto::DeviceIdentity,
        approver_bundle: &Bytes,
        links: &[Vec<u8>],
    ) -> Result<Vec<Link>> {
        let approver = vouch_proto::KeyBundle::decode(&approver_bundle.0)
            .map_err(|_| Error::InvalidPublicKey)?;
        let Some(approver_ed) = approver.ed25519 else {
            return if links.is_empty() {
                Ok(Vec::new())
            } else {
                Err(Error::MalformedPayload)
            };
        };
        if row.purpose == ApprovalPurpose::NewRoot {
            return Ok(Vec::new());
        }
        let links = links
            .iter()
            .map(|l| Link::decode(l))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let known = self.inner.store.chain_links()?;
        let chain = match known.last() {
            Some(k) => Chain::verify_extension(
                row.user_id,
                &links,
                Head {
                    seq: k.seq,
                    hash: k.hash(),
                },
            )?,
            None => Chain::verify(row.user_id, &links)?,
        };
        let me = Member {
            id: row.device.id,
            role: Role::Device,
            x25519: *identity.public_key().as_bytes(),
            ed25519: identity.signing_key().public(),
        };
        let vouched = chain
            .member(me.id)
            .is_some_and(|m| m.is_live() && m.member == me);
        let by_approver = links.last().is_some_and(|l| {
            l.signer == approver_ed
                && matches!(l.body, LinkBody::Vouch { member, .. } if member == me)
        });
        // Already on the chain (keys asked for again): the chain must still name it.
        let already = known.iter().any(|l| {
            matches!(l.body, LinkBody::Vouch { member, .. } | LinkBody::Root(member) if member == me)
        });
        if !vouched || !(by_approver || already) {
            log::warn!("the approval's vouch chain does not vouch for this device");
            return Err(Error::Chain(crate::chain::ChainError::NotAKeyHolder));
        }
        Ok(links.into_iter().skip(known.len()).collect())
    }

    /// Tells the server whether the payload opened; on `completed` this device becomes
    /// trusted (enrollment) or a key holder (key sharing).
    async fn acknowledge(
        &self,
        row: &RequesterRow,
        token: &str,
        opened: bool,
    ) -> Result<EnrollmentState> {
        let run_id = row.run.ok_or(Error::Protocol("no run to acknowledge"))?;
        let ack: AckResult = self
            .guard(
                self.inner
                    .transport
                    .post(
                        &routes::fill(routes::APPROVAL_ACK, &[&row.request_id]),
                        Some(token),
                        &AckRequest { run_id, opened },
                    )
                    .await,
            )
            .await?;
        if !opened || ack.status != ApprovalStatus::Completed {
            self.inner.store.delete_pending_approval(row.request_id)?;
            return Err(Error::MalformedPayload);
        }
        let (next, tokens) = match self.state() {
            EnrollmentState::Verifying {
                user,
                device_id,
                device_name,
                ..
            } => {
                let device_token = ack
                    .device_token
                    .ok_or(Error::Protocol("completed without a device token"))?;
                (
                    EnrollmentState::Trusted {
                        user,
                        device_id,
                        device_name,
                        verified_by: vouch_proto::VerifiedBy::Approval,
                        tier: Tier::KeyHolder,
                    },
                    Tokens {
                        account: self.account_token().ok(),
                        device: Some(device_token),
                    },
                )
            }
            EnrollmentState::Trusted {
                user,
                device_id,
                device_name,
                verified_by,
                ..
            } => (
                // A key holder's approval is the one way a tier changes.
                EnrollmentState::Trusted {
                    user,
                    device_id,
                    device_name,
                    verified_by,
                    tier: Tier::KeyHolder,
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
            serde_json::to_string(&next).map_err(|_| Error::Internal("state encoding"))?;
        let secrets =
            SecretBytes::new(serde_json::to_vec(&tokens).map_err(|_| Error::Internal("encoding"))?);
        self.inner.store.complete_approval(
            row.request_id,
            &self.inner.server_url,
            &state_json,
            &secrets,
        )?;
        self.inner
            .store
            .audit("approval_completed", &row.request_id.to_string())?;
        self.commit_memory(next.clone(), tokens);
        if let Some(l) = &self.inner.listener {
            l.vaults_changed();
        }
        Ok(next)
    }

    fn finish_unapproved(
        &self,
        row: &RequesterRow,
        status: ApprovalStatus,
    ) -> Result<EnrollmentState> {
        self.inner.store.delete_pending_approval(row.request_id)?;
        let state = self.state();
        if state.is_trusted() {
            return Ok(state);
        }
        let user = state
            .user()
            .cloned()
            .ok_or(Error::InvalidState("not signed in"))?;
        let next = match (status, state) {
            (ApprovalStatus::Denied, _) => EnrollmentState::Denied { user },
            (
                ApprovalStatus::Cancelled | ApprovalStatus::Failed,
                EnrollmentState::Verifying {
                    device_id,
                    device_name,
                    ..
                },
            ) => EnrollmentState::Verifying {
                user,
                device_id,
                device_name,
                verification: Verification::NotStarted,
            },
            _ => EnrollmentState::Expired { user },
        };
        self.persist(next.clone(), None)?;
        Ok(next)
    }

    /// Waits until the open request is decided: answers runs and accepts the payload as
    /// they come over the event stream, falling back to polling when the stream is down.
    /// Cancel by dropping the future (a Kotlin coroutine cancel does this).
    pub async fn wait_for_approval(&self) -> Result<EnrollmentState> {
        // The stream of a pending device is refused once it stopped being pending: the
        // decision landed between the check and the connect. Checked once more.
        let mut decided_meanwhile = false;
        loop {
            // Finished elsewhere (the event loop took the keys first): the outcome is the
            // state, not "no request" (the iOS tests caught this race).
            if self.requester_row()?.is_none()
                && let Some(done) = self.finished_state()
            {
                return Ok(done);
            }
            // The server going away (a restart, a lost network) is waited out, not an end:
            // the request lives on the server and the person is still looking at the code.
            match self.check_approval().await {
                Ok(Some(state)) => return Ok(state),
                Ok(None) => {}
                Err(e) if e.is_transient() => {
                    tokio::time::sleep(POLL_INTERVAL).await;
                    continue;
                }
                Err(e) => return Err(e),
            }
            let row = self
                .requester_row()?
                .ok_or(Error::InvalidState("no approval request is open"))?;
            let (token, query) = match (row.purpose, self.state()) {
                (_, EnrollmentState::Verifying { device_id, .. }) => {
                    (self.account_token()?, format!("?device_id={device_id}"))
                }
                _ => (self.device_token()?, String::new()),
            };
            match self.inner.transport.events(&token, &query, None).await {
                Ok(mut stream) => loop {
                    match tokio::time::timeout(POLL_INTERVAL, stream.next()).await {
                        Ok(Some(Ok((
                            _,
                            Event::ApprovalDecided { request_id, .. }
                            | Event::ApprovalRun { request_id, .. },
                        )))) if request_id == row.request_id => break,
                        Ok(Some(Ok(_))) => continue,
                        // Stream ended or failed, or nothing for a while: check by polling.
                        _ => break,
                    }
                },
                Err(e) if e.is_transient() => tokio::time::sleep(POLL_INTERVAL).await,
                Err(Error::Server {
                    code: vouch_proto::ErrorCode::DeviceNotPending,
                    ..
                }) if !decided_meanwhile => decided_meanwhile = true,
                Err(e) => return Err(e),
            }
        }
    }

    /// The state a finished request left: a key holder now, or denied or expired.
    fn finished_state(&self) -> Option<EnrollmentState> {
        let state = self.state();
        match &state {
            EnrollmentState::Trusted { .. } if state.is_key_holder() => Some(state),
            EnrollmentState::Denied { .. } | EnrollmentState::Expired { .. } => Some(state),
            _ => None,
        }
    }
}

fn prompt_from(row: &RequesterRow) -> Result<ApprovalPrompt> {
    let code = row.code()?;
    let qr = QrPayload {
        request_id: row.request_id,
        descriptor_hash: row.descriptor().hash(),
        secret: row.qr_secret()?,
    };
    let local_end = OffsetDateTime::from_unix_timestamp_nanos(
        i128::from(row.made_at_ms + CODE_LIFETIME_MS) * 1_000_000,
    )
    .unwrap_or(row.expires_at);
    Ok(ApprovalPrompt {
        request_id: row.request_id,
        purpose: row.purpose,
        code: code.grouped().to_string(),
        qr_payload: qr.encode().to_string(),
        expires_at: local_end.min(row.expires_at),
        runs_left: RUNS_PER_CODE.saturating_sub(row.runs_answered),
    })
}
