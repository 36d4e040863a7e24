//! "Trust this session?" from the approver's side (Trust v2): the pending list, and a run
//! with the code (or QR) the person entered on that screen. The approver sends nothing
//! but its SPAKE2 message until the new device's MAC verifies over the approver's own
//! snapshot of the request; then it seals the vault keys in HPKE mode_auth_psk to exactly
//! the key bundle it snapshotted, with the run's psk, and stops after any failed run.

use std::time::Duration;
use vouch_proto::routes;

use futures_util::StreamExt;
use time::OffsetDateTime;
use uuid::Uuid;
use vouch_proto::{
    ApprovalPurpose, ApprovalRun, ApprovalStatus, ApproveRequest, Bytes, Decision, DeviceKind,
    ErrorCode, Event, KeyBundle, PakeSecret, PendingApproval, RunStarted, StartRun, Tier,
};

use super::{Client, requester::descriptor_of};
use crate::{
    chain::{
        Chain, ChainError, Link, LinkBody, Member, Role, SIG_LEN, Unsigned, verify_signature,
        vouch_claim,
    },
    crypto::{
        ApprovalCode, ApprovalPayload, ApproverRun, Envelope, EnvelopeContext, EnvelopePurpose,
        PakePassword, PayloadEnvelope, PublicKey, QrPayload, RunContext,
    },
    error::{Error, Result},
    store::{ApprovalSide, now_ms},
};

const APPROVER: ApprovalSide = ApprovalSide::Approver;
/// How long the approver waits for the new device to answer a run before it reports a
/// lost connection ([`Error::NoAnswer`]) rather than a wrong code.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// The words on the "Trust this session?" screen, above the code field.
pub const APPROVER_WARNING: &str = "Enter the code shown on the device you are holding now. \
     Nobody from Vouch or your company will ever ask you for it.";

/// The words above the code field of a `new_root` request (an admin making another
/// person's first key holder), instead of [`APPROVER_WARNING`].
pub const NEW_ROOT_WARNING: &str = "This makes that device the first key holder of another \
     person's account (named above), on a new chain: their old devices and recovery key stop \
     counting, and no vault key of yours is sent. Approve only if you reached that person \
     yourself and they read you this code from their new device; a code sent to you unasked \
     is an attack.";

/// The words above the code field for a request of `purpose`.
pub fn approver_warning(purpose: ApprovalPurpose) -> &'static str {
    match purpose {
        ApprovalPurpose::NewRoot => NEW_ROOT_WARNING,
        ApprovalPurpose::Enroll | ApprovalPurpose::ShareKeys => APPROVER_WARNING,
    }
}

/// A request as the approver sees it ("Trust this session?").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRequest {
    /// Request id.
    pub request_id: Uuid,
    /// Enrollment, key sharing, or a new first key holder (for an admin).
    pub purpose: ApprovalPurpose,
    /// The requester's account (email): for a `new_root`, another person's — show it.
    pub account: String,
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
    /// The requester's tier when it is already trusted (an email-only device asking for
    /// keys is flagged on the screen).
    pub requester_tier: Option<Tier>,
    /// It asked from another network than this device's: flag it on the screen.
    pub other_network: bool,
    /// `Pending`, or `Approved` while waiting for the new device to acknowledge.
    pub status: ApprovalStatus,
}

impl Client {
    fn require_approver(&self) -> Result<()> {
        if !self.inner.device.kind.can_approve() {
            return Err(Error::InvalidState(
                "browser extensions cannot approve devices",
            ));
        }
        // Only a key holder approves: an email-only device's envelopes would hold keys of
        // its own choosing.
        self.require_key_holder_device()
    }

    /// Fetches the open requests and returns what to show. A request seen before keeps
    /// its first snapshot (key bundle, descriptor and all), whatever the server says now.
    pub async fn pending_requests(&self) -> Result<Vec<PendingRequest>> {
        self.require_approver()?;
        let token = self.device_token()?;
        let listed: Vec<PendingApproval> = self
            .guard(
                self.inner
                    .transport
                    .get(
                        &format!("{}?status=pending", routes::APPROVAL_REQUESTS),
                        Some(&token),
                    )
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
                let payload = serde_json::to_vec(p).map_err(|_| Error::Internal("encoding"))?;
                let exp = (p.expires_at.unix_timestamp_nanos() / 1_000_000) as i64;
                self.inner
                    .store
                    .put_pending_approval(p.id, APPROVER, &payload, exp)?;
            }
        }
        for id in known.difference(&live) {
            self.inner.store.delete_pending_approval(*id)?;
        }
        // The status moves (approved, waiting for the device); the snapshot does not.
        let status: std::collections::HashMap<Uuid, ApprovalStatus> =
            listed.iter().map(|p| (p.id, p.status)).collect();
        let views = self
            .snapshots()?
            .iter()
            .map(|s| view(s, status.get(&s.id).copied()))
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

    /// Approves a listed request with the code the person typed on this screen. Runs the
    /// PAKE through the server; nothing else is sent unless the new device proves it
    /// shows the same code over the same request ([`Error::WrongCode`] otherwise — ask
    /// the person again). On phones the app's user-presence check runs first.
    pub async fn approve(&self, request_id: Uuid, typed_code: &str) -> Result<()> {
        self.require_approver()?;
        let code = ApprovalCode::parse(typed_code)?;
        let snap = self.snapshot(request_id)?;
        self.run_approval(&snap, PakePassword::Code(&code), PakeSecret::Code)
            .await
    }

    /// Approves with the QR code the app's own camera scanned on this request's screen. A
    /// code that does not parse, or names another request or device, is refused before
    /// anything is sent ([`Error::InvalidQrPayload`], [`Error::QrMismatch`]).
    pub async fn approve_scanned(&self, request_id: Uuid, scanned: &str) -> Result<()> {
        self.require_approver()?;
        let qr = QrPayload::decode(scanned)?;
        let snap = self.snapshot(request_id)?;
        if qr.request_id != snap.id || !qr.names(&descriptor_of(&snap.device).hash()) {
            self.inner
                .store
                .audit("approval_refused", "QR code of another request or device")?;
            return Err(Error::QrMismatch);
        }
        self.run_approval(&snap, PakePassword::Qr(&qr.secret), PakeSecret::Qr)
            .await
    }

    async fn run_approval(
        &self,
        snap: &PendingApproval,
        password: PakePassword<'_>,
        secret: PakeSecret,
    ) -> Result<()> {
        let me = self.state();
        let my_user = me.user().map(|u| u.id);
        if my_user != Some(snap.user_id) && snap.purpose != ApprovalPurpose::NewRoot {
            return Err(Error::Protocol("a request of another user was listed"));
        }
        let approver_id = me
            .device_id()
            .ok_or(Error::InvalidState("not a trusted device"))?;
        self.confirm_presence(format!("Trust \"{}\"?", snap.device.name))
            .await?;
        let identity = self
            .inner
            .store
            .identity()?
            .ok_or(Error::InvalidState("no device identity"))?;
        let recipient = PublicKey::from_bundle(&snap.device.key_bundle.0)?;
        let ctx = RunContext {
            purpose: vouch_proto::enum_name(&snap.purpose),
            user_id: snap.user_id,
            request_id: snap.id,
            requester_id: snap.device.id,
            approver_id,
            requester_bundle: snap.device.key_bundle.0.clone(),
            approver_bundle: identity.bundle(),
            descriptor: descriptor_of(&snap.device),
        };
        let token = self.device_token()?;
        let run = ApproverRun::start(password, snap.user_id, snap.id)?;
        let started: RunStarted = self
            .guard(
                self.inner
                    .transport
                    .post(
                        &routes::fill(routes::APPROVAL_RUNS, &[&snap.id]),
                        Some(&token),
                        &StartRun {
                            secret,
                            msg_a: Bytes(run.message().to_vec()),
                        },
                    )
                    .await,
            )
            .await
            .inspect_err(|e| self.settle_error(snap.id, e))?;
        let answer = self.await_answer(snap.id, started.run_id, &token).await?;
        let (Some(msg_b), Some(mac_b)) = (&answer.msg_b, &answer.mac_b) else {
            return Err(Error::NoAnswer);
        };
        let confirmed = match run.finish(&ctx, &msg_b.0, &mac_b.0) {
            Ok(c) => c,
            Err(e) => {
                self.inner
                    .store
                    .audit("approval_refused", "the code did not match")?;
                let _: Result<Decision> = self
                    .inner
                    .transport
                    .post(
                        &routes::fill(routes::APPROVAL_RUN_ABORT, &[&snap.id, &started.run_id]),
                        Some(&token),
                        &(),
                    )
                    .await;
                return Err(e);
            }
        };
        let vouch = match self.vouch_for(snap, &answer, approver_id) {
            Ok(v) => v,
            Err(e) => {
                self.inner.store.audit(
                    "approval_refused",
                    "the new device's counter-signature did not verify",
                )?;
                let _: Result<Decision> = self
                    .inner
                    .transport
                    .post(
                        &routes::fill(routes::APPROVAL_RUN_ABORT, &[&snap.id, &started.run_id]),
                        Some(&token),
                        &(),
                    )
                    .await;
                return Err(e);
            }
        };
        // Vaults created offline must exist on the server before their keys travel.
        let _ = self.flush(false).await;
        let mut payload = ApprovalPayload::default();
        if snap.purpose != ApprovalPurpose::NewRoot {
            for v in self.inner.store.vaults()?.into_iter().filter(|v| v.has_key) {
                for epoch in self.inner.store.vault_key_epochs(v.id)? {
                    let Some(key) = self.inner.store.vault_key(v.id, epoch)? else {
                        continue;
                    };
                    let ectx = EnvelopeContext {
                        purpose: EnvelopePurpose::Approval,
                        user_id: snap.user_id,
                        request_id: snap.id,
                        vault_id: v.id,
                        epoch,
                    };
                    payload.envelopes.push(PayloadEnvelope {
                        vault_id: v.id,
                        epoch,
                        envelope: Envelope::seal(
                            &key,
                            &identity,
                            &recipient,
                            confirmed.psk(),
                            &ectx,
                        )?,
                    });
                }
            }
        }
        // The vouch is the chain's next link when the server stores it with the approval;
        // if another link landed first, the chain is fetched again and the vouch re-signed.
        let mut attempts = 0;
        loop {
            attempts += 1;
            let (chain, link) = match &vouch {
                Vouch::New(member, sig) => {
                    self.chain_with_vouch(snap.user_id, approver_id, member, &snap.device.name, sig)
                        .await?
                }
                Vouch::Known => {
                    self.sync_chain().await?;
                    (self.inner.store.chain_links()?, None)
                }
                Vouch::None => (Vec::new(), None),
            };
            payload.chain = chain.iter().map(Link::encode).collect();
            let body = ApproveRequest {
                run_id: started.run_id,
                mac_a: Bytes(confirmed.mac_a()?.to_vec()),
                payload: Bytes(payload.seal(&confirmed)?),
                link: link.as_ref().map(|l| Bytes(l.encode())),
            };
            let r: Result<Decision> = self
                .guard(
                    self.inner
                        .transport
                        .post(
                            &routes::fill(routes::APPROVAL_APPROVE, &[&snap.id]),
                            Some(&token),
                            &body,
                        )
                        .await,
                )
                .await;
            match r {
                Err(Error::Server {
                    code: ErrorCode::ChainConflict,
                    ..
                }) if attempts < 3 => continue,
                Err(e) => {
                    self.settle_error(snap.id, &e);
                    return Err(e);
                }
                // The vouch is not kept here: it counts once the server shows it back
                // (the next chain sync), so one the server acknowledged but dropped cannot
                // become this device's head and make it refuse the honest chain.
                Ok(_) => break,
            }
        }
        self.inner.store.audit(
            "approval_sent",
            &format!("{} ({} key(s))", snap.id, payload.envelopes.len()),
        )?;
        Ok(())
    }

    /// The member an approval adds to the chain and its counter-signature, checked:
    /// [`Vouch::None`] for `new_root` (admins are not on a user's chain) and for a device
    /// registered without a signing key, [`Vouch::Known`] for one the chain already names
    /// with these keys (an earlier approval whose payload did not open).
    fn vouch_for(
        &self,
        snap: &PendingApproval,
        answer: &ApprovalRun,
        approver_id: Uuid,
    ) -> Result<Vouch> {
        if snap.purpose == ApprovalPurpose::NewRoot {
            return Ok(Vouch::None);
        }
        let bundle =
            KeyBundle::decode(&snap.device.key_bundle.0).map_err(|_| Error::InvalidPublicKey)?;
        let Some(ed25519) = bundle.ed25519 else {
            log::warn!("the new device has no signing key: it is not added to the vouch chain");
            return Ok(Vouch::None);
        };
        let member = Member {
            id: snap.device.id,
            role: Role::Device,
            x25519: bundle.x25519,
            ed25519,
        };
        if let Some(known) = self
            .local_chain()?
            .as_ref()
            .and_then(|c| c.member(member.id).copied())
            && known.is_live()
            && known.member == member
        {
            return Ok(Vouch::Known);
        }
        let sig: [u8; SIG_LEN] = answer
            .reverse_sig
            .as_ref()
            .and_then(|s| s.0.as_slice().try_into().ok())
            .ok_or(Error::Chain(ChainError::BadSignature))?;
        verify_signature(
            &member.ed25519,
            &vouch_claim(snap.user_id, &member, approver_id),
            &sig,
        )?;
        Ok(Vouch::New(member, sig))
    }

    /// The verified chain (fetched now) with this device's vouch for `member` appended,
    /// under `name` (the device name bound in this approval's transcript), checked as the
    /// new device will check it; and the vouch itself (`None` when the fetched chain names
    /// the member already, with these keys).
    async fn chain_with_vouch(
        &self,
        user: Uuid,
        approver_id: Uuid,
        member: &Member,
        name: &str,
        sig: &[u8; SIG_LEN],
    ) -> Result<(Vec<Link>, Option<Link>)> {
        let chain = self.sync_chain().await?.ok_or(Error::InvalidState(
            "there is no vouch chain to add the device to",
        ))?;
        let mut links = self.inner.store.chain_links()?;
        // An earlier approval whose payload did not open already put it on the chain the
        // server serves (this device keeps its own links only once shown back).
        if chain
            .member(member.id)
            .is_some_and(|m| m.is_live() && m.member == *member)
        {
            return Ok((links, None));
        }
        let last = links.last().ok_or(Error::Chain(ChainError::Empty))?;
        let identity = self
            .inner
            .store
            .identity()?
            .ok_or(Error::InvalidState("no device identity"))?;
        let link = Unsigned::after(
            last,
            identity.signing_key().public(),
            LinkBody::Vouch {
                member: *member,
                approver: approver_id,
            },
            OffsetDateTime::now_utc().unix_timestamp(),
        )
        .named(name)
        .with_reverse_sig(*sig)
        .sign(identity.signing_key());
        links.push(link.clone());
        // This device must itself be a live key holder on the chain for the vouch to hold.
        Chain::verify(user, &links)?;
        Ok((links, Some(link)))
    }

    /// On phones, asks the app for the OS's user presence (the prompt says `reason`)
    /// before anything is sent: device approvals and console approvals alike.
    pub(super) async fn confirm_presence(&self, reason: String) -> Result<()> {
        if self.inner.device.kind != DeviceKind::Mobile {
            return Ok(());
        }
        // The app's prompt blocks until the person answers: never on the caller's thread
        // (a coroutine on the UI thread would deadlock), always on a blocking worker.
        let confirmed = match self.inner.presence.clone() {
            Some(p) => tokio::task::spawn_blocking(move || p.confirm(reason))
                .await
                .unwrap_or(false),
            None => false,
        };
        match confirmed {
            true => Ok(()),
            false => {
                self.inner
                    .store
                    .audit("approval_refused", "user presence not confirmed")?;
                Err(Error::UserPresenceRequired)
            }
        }
    }

    /// Waits for the new device's answer to a run: on its event, or by polling; a run
    /// the device refused (its code is used up) or no answer in time are told apart from
    /// a wrong code.
    async fn await_answer(
        &self,
        request_id: Uuid,
        run_id: Uuid,
        token: &str,
    ) -> Result<ApprovalRun> {
        let deadline = tokio::time::Instant::now() + ANSWER_TIMEOUT;
        let mut stream = self.inner.transport.events(token, "", None).await.ok();
        loop {
            let run: ApprovalRun = self
                .guard(
                    self.inner
                        .transport
                        .get(
                            &routes::fill(routes::APPROVAL_RUN, &[&request_id, &run_id]),
                            Some(token),
                        )
                        .await,
                )
                .await?;
            if run.aborted {
                return Err(Error::CodeUsedUp);
            }
            if run.msg_b.is_some() {
                return Ok(run);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::NoAnswer);
            }
            let wait = Duration::from_millis(500);
            match stream.as_mut() {
                Some(s) => {
                    let _ = tokio::time::timeout(wait, async {
                        while let Some(ev) = s.next().await {
                            if matches!(ev, Ok((_, Event::ApprovalRun { run_id: r, .. })) if r == run_id)
                            {
                                break;
                            }
                        }
                    })
                    .await;
                }
                None => tokio::time::sleep(wait).await,
            }
        }
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
                        &routes::fill(routes::APPROVAL_DENY, &[&request_id]),
                        Some(&token),
                        &(),
                    )
                    .await,
            )
            .await;
        if let Err(e) = &r {
            self.settle_error(request_id, e);
        }
        r?;
        self.forget_request(request_id)?;
        self.inner
            .store
            .audit("approval_denied", &request_id.to_string())?;
        Ok(())
    }

    /// A request the server says is over is dropped from the list.
    fn settle_error(&self, request_id: Uuid, e: &Error) {
        if let Error::Server { code, .. } = e
            && matches!(
                code,
                ErrorCode::AlreadyDecided | ErrorCode::RequestExpired | ErrorCode::NotFound
            )
        {
            let _ = self.forget_request(request_id);
        }
    }

    fn forget_request(&self, request_id: Uuid) -> Result<()> {
        self.inner.store.delete_pending_approval(request_id)?;
        let views = self
            .snapshots()?
            .iter()
            .map(|s| view(s, None))
            .collect::<Vec<_>>();
        if let Some(l) = &self.inner.listener {
            l.pending_approvals_changed(views);
        }
        Ok(())
    }
}

/// What an approval does to the vouch chain.
enum Vouch {
    /// Nothing: a `new_root`, or a device without a signing key.
    None,
    /// The device is on the chain already: hand the chain over as it is.
    Known,
    /// Add the device: its member entry and its counter-signature.
    New(Member, [u8; SIG_LEN]),
}

fn view(p: &PendingApproval, status: Option<ApprovalStatus>) -> PendingRequest {
    PendingRequest {
        request_id: p.id,
        purpose: p.purpose,
        account: p.user_email.clone(),
        device_name: p.device.name.clone(),
        device_kind: p.device.kind,
        platform: p.device.platform.clone(),
        origin: p.origin.clone(),
        created_at: p.created_at,
        expires_at: p.expires_at,
        requester_tier: p.device.tier,
        other_network: p.other_network,
        status: status.unwrap_or(p.status),
    }
}
