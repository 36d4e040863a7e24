//! The vouch chain from a device's side (DESIGN § The vouch chain): fetch and verify the
//! user's chain against what this device saw before, make the root as the first key
//! holder, and move vault keys only to the key holders on the verified chain — sealed in
//! chain envelopes, opened only from a sender the chain names.

use time::OffsetDateTime;
use uuid::Uuid;
use vouch_proto::{
    Bytes, ErrorCode, Vault,
    chain::{
        AppendLink, ChainEnvelopes, ChainLinks, MAX_CHAIN_ENVELOPES, NewChainEnvelope,
        PostChainEnvelopes, RotateVault,
    },
    routes,
};

use super::Client;
use crate::{
    chain::{Chain, ChainError, Link, LinkBody, Member, Role, Unsigned},
    crypto::{
        ChainEnvelopeContext, DeviceIdentity, EnvelopePurpose, VaultKey, chain_envelope_purpose,
        open_chain_envelope, seal_chain_envelope,
    },
    error::{Error, Result},
    store::Change,
};

/// How often an append is retried when another link landed first.
const APPEND_ATTEMPTS: usize = 3;

/// A key holder as `vouch chain` and the apps list it: from the verified chain only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainMember {
    /// Device id (or the recovery key's id).
    pub id: Uuid,
    /// Device or recovery key.
    pub role: Role,
    /// Position of the link that added it (0: the root).
    pub added_at: u64,
    /// The key holder that vouched for it (`None` for the root).
    pub vouched_by: Option<Uuid>,
    /// Position of the link that revoked it, if one did.
    pub revoked_at: Option<u64>,
    /// Whether it is this device.
    pub this_device: bool,
    /// The device name it was vouched under, signed on the chain (`None` for a link of
    /// format v1 or the recovery key): unlike the server's device list, which the server
    /// writes, this is what a key holder saw bound in the approval. Find the device to
    /// revoke by it.
    pub name: Option<String>,
}

impl Client {
    /// This device as a chain member.
    pub(super) fn me_as_member(&self, identity: &DeviceIdentity) -> Result<Member> {
        Ok(Member {
            id: self
                .state()
                .device_id()
                .ok_or(Error::InvalidState("not a registered device"))?,
            role: Role::Device,
            x25519: *identity.public_key().as_bytes(),
            ed25519: identity.signing_key().public(),
        })
    }

    pub(super) fn identity(&self) -> Result<DeviceIdentity> {
        self.inner
            .store
            .identity()?
            .ok_or(Error::InvalidState("no device identity"))
    }

    pub(super) fn chain_user(&self) -> Result<Uuid> {
        self.state()
            .user()
            .map(|u| u.id)
            .ok_or(Error::InvalidState("not signed in"))
    }

    /// The chain as this device last verified it (a local read; `None` before it saw
    /// one).
    pub fn local_chain(&self) -> Result<Option<Chain>> {
        let links = self.inner.store.chain_links()?;
        if links.is_empty() {
            return Ok(None);
        }
        Ok(Some(Chain::verify(self.chain_user()?, &links)?))
    }

    /// Fetches the user's chain, verifies it from the root and checks that it contains
    /// the chain this device verified before (no rollback, no fork), then keeps the new
    /// links. On an empty chain a key holder that never saw one makes the root. `None`
    /// when there is no chain and this device cannot start one. A chain that does not
    /// verify is refused ([`Error::Chain`]) and nothing of it is kept.
    pub async fn sync_chain(&self) -> Result<Option<Chain>> {
        let user = self.chain_user()?;
        for _ in 0..APPEND_ATTEMPTS {
            let links = self.fetch_chain().await?;
            if links.is_empty() && self.inner.store.chain_links()?.is_empty() {
                if !self.state().is_key_holder() {
                    return Ok(None);
                }
                // Counted once the server shows it back (next turn): a root the server
                // acknowledged but did not keep must not become this device's head.
                match self.append_root(user).await {
                    Err(Error::Server {
                        code: ErrorCode::ChainConflict,
                        ..
                    })
                    | Ok(()) => continue,
                    Err(e) => return Err(e),
                }
            }
            return self.verify_fetched(user, &links, super::disabled::Keep::Yes);
        }
        Err(Error::Server {
            code: ErrorCode::ChainConflict,
            message: "the vouch chain kept changing; try again".into(),
            attempts_left: None,
            retry_after_secs: None,
        })
    }

    pub(super) async fn fetch_chain(&self) -> Result<Vec<Link>> {
        let token = self.device_token()?;
        let got: ChainLinks = self
            .guard(self.inner.transport.get(routes::CHAIN, Some(&token)).await)
            .await?;
        got.links
            .iter()
            .map(|b| Link::decode(&b.0).map_err(|e| self.refuse(e)))
            .collect()
    }

    /// This device's name, as its state knows it (empty before it is trusted).
    pub(super) fn own_name(&self) -> String {
        match self.state() {
            crate::EnrollmentState::Trusted { device_name, .. }
            | crate::EnrollmentState::Verifying { device_name, .. } => device_name,
            _ => String::new(),
        }
    }

    /// Logs and records a refused chain; the error to return.
    pub(super) fn refuse(&self, e: ChainError) -> Error {
        log::warn!("the vouch chain was refused: {e}");
        let _ = self.inner.store.audit("chain_refused", &e.to_string());
        Error::Chain(e)
    }

    /// Signs and posts the root; not kept here until the server shows it back.
    async fn append_root(&self, user: Uuid) -> Result<()> {
        let identity = self.identity()?;
        let me = self.me_as_member(&identity)?;
        let root = Unsigned::root(user, me, now())
            .named(&self.own_name())
            .sign(identity.signing_key());
        let token = self.device_token()?;
        let _: () = self
            .guard(
                self.inner
                    .transport
                    .post(
                        routes::CHAIN,
                        Some(&token),
                        &AppendLink {
                            link: Bytes(root.encode()),
                        },
                    )
                    .await,
            )
            .await?;
        self.inner
            .store
            .audit("chain_root", "this device started the vouch chain")?;
        Ok(())
    }

    /// The verified chain's key holders (fetched and verified first).
    pub async fn chain_members(&self) -> Result<Vec<ChainMember>> {
        self.require_trusted_device()?;
        let me = self.state().device_id();
        let Some(chain) = self.sync_chain().await? else {
            return Ok(Vec::new());
        };
        let mut out: Vec<ChainMember> = chain
            .members()
            .map(|(m, vouched_by)| ChainMember {
                id: m.member.id,
                role: m.member.role,
                added_at: m.added_at,
                vouched_by,
                revoked_at: m.revoked_at,
                this_device: Some(m.member.id) == me,
                name: chain.name_of(m.member.id).map(str::to_owned),
            })
            .collect();
        out.sort_by_key(|m| m.added_at);
        Ok(out)
    }

    pub(super) fn require_trusted_device(&self) -> Result<()> {
        if self.state().is_trusted() {
            Ok(())
        } else {
            Err(Error::InvalidState("this device is not trusted yet"))
        }
    }

    /// Seals every vault key this device holds to each live key holder on the verified
    /// chain that it has not sealed it to yet (a new vault reaches every key holder; a
    /// new key holder gets the vaults its approver lacked). Returns how many were sent.
    pub(super) async fn share_vault_keys(&self) -> Result<u32> {
        let Some(chain) = self.sync_chain().await? else {
            return Ok(0);
        };
        let identity = self.identity()?;
        let me = self.me_as_member(&identity)?;
        // Only a key holder on the chain seals: a device the chain does not name has
        // nothing the others would accept.
        if chain
            .member(me.id)
            .is_none_or(|m| !m.is_live() || m.member != me)
        {
            return Ok(0);
        }
        let pending = self.not_sealed_to(&chain).await?;
        let token = self.device_token()?;
        let mut sent = 0;
        for v in self.inner.store.vaults()?.into_iter().filter(|v| v.has_key) {
            let mut batch = Vec::new();
            let mut marks = Vec::new();
            for epoch in self.inner.store.vault_key_epochs(v.id)? {
                let Some(key) = self.inner.store.vault_key(v.id, epoch)? else {
                    continue;
                };
                for m in chain.live() {
                    let to = m.member;
                    if to.id == me.id
                        || pending.contains(&to.id)
                        || self.inner.store.key_shared(v.id, epoch, to.id)?
                    {
                        continue;
                    }
                    let ctx = ChainEnvelopeContext {
                        purpose: EnvelopePurpose::VaultCreation,
                        user_id: chain.user(),
                        sender_id: me.id,
                        recipient_id: to.id,
                        vault_id: v.id,
                        epoch,
                    };
                    batch.push(NewChainEnvelope {
                        recipient: to.id,
                        epoch,
                        envelope: Bytes(seal_chain_envelope(&key, &identity, &to, &ctx)?),
                    });
                    marks.push((epoch, to.id));
                }
            }
            // In uploads the server takes (a device holding many epochs, after many
            // rotations, has more to share than one upload carries).
            let mut envelopes = batch;
            let mut marks = marks.as_slice();
            while !envelopes.is_empty() {
                let rest = envelopes.split_off(envelopes.len().min(MAX_CHAIN_ENVELOPES));
                let (now, later) = marks.split_at(envelopes.len());
                let r: Result<()> = self
                    .guard(
                        self.inner
                            .transport
                            .post(
                                &routes::fill(routes::VAULT_ENVELOPES, &[&v.id]),
                                Some(&token),
                                &PostChainEnvelopes { envelopes },
                            )
                            .await,
                    )
                    .await;
                match r {
                    Ok(()) => {}
                    // Not on the server yet (created offline): the next sync shares it.
                    Err(Error::Server {
                        code: ErrorCode::NotFound,
                        ..
                    }) => break,
                    Err(e) => return Err(e),
                }
                for (epoch, to) in now {
                    self.inner.store.mark_key_shared(v.id, *epoch, *to)?;
                }
                sent += now.len() as u32;
                (envelopes, marks) = (rest, later);
            }
        }
        if sent > 0 {
            self.inner.store.audit(
                "keys_shared",
                &format!("{sent} vault key(s) sealed to key holders"),
            )?;
        }
        Ok(sent)
    }

    /// Opens the vault keys other key holders sealed to this device: only from a sender
    /// that is a live key holder on this device's verified chain, only with a valid
    /// signature and HPKE mode_auth from that member's keys; a held key is never replaced.
    /// Returns how many new keys were stored.
    pub(super) async fn receive_chain_envelopes(&self) -> Result<u32> {
        let token = self.device_token()?;
        let got: ChainEnvelopes = self
            .guard(
                self.inner
                    .transport
                    .get(routes::ENVELOPES, Some(&token))
                    .await,
            )
            .await?;
        let mut waiting = Vec::new();
        for e in got.envelopes {
            if self.inner.store.vault_key(e.vault_id, e.epoch)?.is_none() {
                waiting.push(e);
            }
        }
        if waiting.is_empty() {
            return Ok(0);
        }
        let Some(chain) = self.sync_chain().await? else {
            return Ok(0);
        };
        let identity = self.identity()?;
        let me = self.me_as_member(&identity)?.id;
        let mut keys = Vec::new();
        let mut refused = 0;
        for e in &waiting {
            let Some(sender) = chain.member(e.sender).filter(|m| m.is_live()) else {
                refused += 1;
                continue;
            };
            let Ok(purpose) = chain_envelope_purpose(&e.envelope.0) else {
                refused += 1;
                continue;
            };
            let ctx = ChainEnvelopeContext {
                purpose,
                user_id: chain.user(),
                sender_id: e.sender,
                recipient_id: me,
                vault_id: e.vault_id,
                epoch: e.epoch,
            };
            match open_chain_envelope(&e.envelope.0, &identity, &sender.member, &ctx) {
                Ok(key) => keys.push((e.vault_id, e.epoch, key, purpose, e.sender == me)),
                Err(_) => refused += 1,
            }
        }
        if refused > 0 {
            log::warn!("refused {refused} vault key(s) not sealed by a key holder on the chain");
            self.inner.store.audit(
                "envelope_refused",
                &format!("{refused} key(s) not from a key holder on the verified chain"),
            )?;
        }
        // A rotation of this device's own that the server took but whose answer never
        // came back (a kill, a lost connection) returns here: the re-encryption it owes
        // is marked with the key, as the rotation itself would have.
        let markers: Vec<String> = keys
            .iter()
            .filter(|(_, _, _, purpose, own)| *own && *purpose == EnvelopePurpose::Rotation)
            .map(|(vault_id, ..)| super::reencrypt::marker(*vault_id))
            .collect();
        let mut changes: Vec<Change<'_>> = keys
            .iter()
            .map(|(vault_id, epoch, key, ..)| Change::VaultKey {
                vault_id: *vault_id,
                epoch: *epoch,
                key,
            })
            .collect();
        for name in &markers {
            changes.push(Change::Setting { name, value: "1" });
        }
        self.inner.store.apply(&changes)?;
        Ok(keys.len() as u32)
    }
}

impl Client {
    /// Upkeep for devices the server says are disabled (an admin's disable, a
    /// deprovisioning — or a lie) while the verified chain still names them as key
    /// holders: nothing more is sealed to them, and once per such device every vault is
    /// rotated away from it. No revocation is signed on the server's word: a revocation
    /// makes its device shred, so only the person's decision signs one (a disable from a
    /// key holder, a recovery). A server that lies here only keeps keys from a device,
    /// until it lists it as trusted again (then the next share seals the new epochs to
    /// it). Returns how many vaults were rotated.
    pub(super) async fn rotate_away_from_disabled(&self) -> Result<u32> {
        let Some(chain) = self.sync_chain().await? else {
            return Ok(0);
        };
        let me = self.state().device_id();
        let devices = self.devices().await?;
        let disabled: Vec<Uuid> = chain
            .live()
            .filter(|m| m.member.role == Role::Device && Some(m.member.id) != me)
            .map(|m| m.member.id)
            .filter(|id| {
                devices
                    .iter()
                    .any(|d| d.id == *id && d.status == vouch_proto::DeviceStatus::Disabled)
            })
            .collect();
        let before = id_list(self.inner.store.setting(SERVER_DISABLED)?);
        let rotated_away = id_list(self.inner.store.setting(ROTATED_AWAY)?);
        self.inner
            .store
            .set_setting(SERVER_DISABLED, &join_ids(&disabled))?;
        let new: Vec<Uuid> = disabled
            .iter()
            .filter(|id| !rotated_away.contains(id))
            .copied()
            .collect();
        if new.is_empty() {
            if before != disabled {
                // One that came back is rotated away from again if it is disabled again.
                self.inner
                    .store
                    .set_setting(ROTATED_AWAY, &join_ids(&disabled))?;
            }
            return Ok(0);
        }
        let rotated = self.rotate_all().await?;
        self.inner
            .store
            .set_setting(ROTATED_AWAY, &join_ids(&disabled))?;
        self.inner.store.audit(
            "rotated_away_from_disabled",
            &format!(
                "{} device(s) the server disabled; {rotated} vault(s)",
                new.len()
            ),
        )?;
        Ok(rotated)
    }

    /// Live members of `chain` no vault key is sealed to now: [`Self::excluded_from_sealing`],
    /// and every device member the server does not list as trusted — an approval that
    /// failed after the vouch was signed (its acknowledgement lost or refused), or one
    /// still waiting for it: it got no key through the chain, and gets them once it is
    /// trusted (a server that lies here only keeps keys from a device).
    pub(super) async fn not_sealed_to(&self, chain: &Chain) -> Result<Vec<Uuid>> {
        let mut out = self.excluded_from_sealing()?;
        let listed = self.fetch_devices().await?;
        out.extend(
            chain
                .live()
                .filter(|m| m.member.role == Role::Device)
                .map(|m| m.member.id)
                .filter(|id| {
                    !listed
                        .iter()
                        .any(|d| d.id == *id && d.status == vouch_proto::DeviceStatus::Trusted)
                }),
        );
        Ok(out)
    }

    /// Members nothing is sealed to: revocations decided here and not yet on the chain,
    /// and key holders the server says are disabled (as last seen).
    pub(super) fn excluded_from_sealing(&self) -> Result<Vec<Uuid>> {
        let mut out = self.pending_revocations()?;
        out.extend(id_list(self.inner.store.setting(SERVER_DISABLED)?));
        Ok(out)
    }

    /// Rotates every vault the server lists (not deleted), right after this device signed
    /// a revocation or saw a key holder disabled by the server.
    pub(super) async fn rotate_all(&self) -> Result<u32> {
        let token = self.device_token()?;
        let vaults: Vec<Vault> = self
            .guard(self.inner.transport.get(routes::VAULTS, Some(&token)).await)
            .await?;
        let live: Vec<Vault> = vaults
            .into_iter()
            .filter(|v| v.tombstone.is_none())
            .collect();
        self.rotate_vaults(&live, true).await
    }

    /// Signs and appends a revocation of `member` (a live key holder on the verified
    /// chain; this device must be one too), and sees it back in the chain the server
    /// serves. `Ok(false)` when the chain does not name it as live (nothing to revoke).
    pub(super) async fn revoke_on_chain(&self, member: Uuid) -> Result<bool> {
        let identity = self.identity()?;
        let me = self.me_as_member(&identity)?;
        let appended = self
            .append_link(
                |chain, last| {
                    if chain.member(member).is_none_or(|m| !m.is_live())
                        || chain.member(me.id).is_none_or(|m| !m.is_live())
                    {
                        return Ok(None);
                    }
                    Ok(Some(
                        Unsigned::after(last, me.ed25519, LinkBody::Revoke { member }, now())
                            .sign(identity.signing_key()),
                    ))
                },
                |chain| chain.member(member).is_some_and(|m| !m.is_live()),
                "the server did not keep the revocation; the next sync signs it again",
            )
            .await?;
        if appended {
            self.inner
                .store
                .audit("chain_revoked", &member.to_string())?;
        }
        Ok(appended)
    }

    /// Appends the link `sign` makes after the chain's last one (`None`: nothing to
    /// append, `Ok(false)`), and counts it only once the chain the server then serves
    /// shows `done`: a link the server acknowledged but did not keep must not become this
    /// device's head (it would refuse the honest chain for good). Signed again on the
    /// chain as it stands after a conflict or a dropped link; `not_kept` is the error when
    /// every attempt went so.
    pub(super) async fn append_link(
        &self,
        sign: impl Fn(&Chain, &Link) -> Result<Option<Link>>,
        done: impl Fn(&Chain) -> bool,
        not_kept: &'static str,
    ) -> Result<bool> {
        for _ in 0..APPEND_ATTEMPTS {
            let Some(chain) = self.sync_chain().await? else {
                return Ok(false);
            };
            let links = self.inner.store.chain_links()?;
            let last = links.last().ok_or(Error::Chain(ChainError::Empty))?;
            let Some(link) = sign(&chain, last)? else {
                return Ok(false);
            };
            let token = self.device_token()?;
            let r: Result<()> = self
                .guard(
                    self.inner
                        .transport
                        .post(
                            routes::CHAIN,
                            Some(&token),
                            &AppendLink {
                                link: Bytes(link.encode()),
                            },
                        )
                        .await,
                )
                .await;
            match r {
                Err(Error::Server {
                    code: ErrorCode::ChainConflict,
                    ..
                }) => continue,
                Err(e) => return Err(e),
                Ok(()) => {
                    if self.sync_chain().await?.is_some_and(|c| done(&c)) {
                        return Ok(true);
                    }
                }
            }
        }
        Err(Error::Server {
            code: ErrorCode::ChainConflict,
            message: not_kept.into(),
            attempts_left: None,
            retry_after_secs: None,
        })
    }

    /// Rotates the key of every vault (as the server lists them) this device holds a key of
    /// whose newest key was made before the last revocation on the verified chain:
    /// a new epoch sealed only to the live key holders on the chain (this
    /// device included, so a crash after the server took it loses nothing). Another key
    /// holder that rotated first wins; its envelope arrives instead. Returns how many
    /// vaults were rotated.
    pub(super) async fn rotate_after_revocations(&self, vaults: &[Vault]) -> Result<u32> {
        self.rotate_vaults(vaults, false).await
    }

    /// [`Self::rotate_after_revocations`], or (`force`, right after this device signed a
    /// revocation) every vault listed, whatever position the server says its key was made
    /// at: the revoker does not take the server's word that no rotation is due.
    pub(super) async fn rotate_vaults(&self, vaults: &[Vault], force: bool) -> Result<u32> {
        let Some(chain) = self.sync_chain().await? else {
            return Ok(0);
        };
        let identity = self.identity()?;
        let me = self.me_as_member(&identity)?;
        if chain
            .member(me.id)
            .is_none_or(|m| !m.is_live() || m.member != me)
        {
            return Ok(0);
        }
        let last_revocation = self
            .inner
            .store
            .chain_links()?
            .iter()
            .rev()
            .find(|l| matches!(l.body, LinkBody::Revoke { .. }))
            .map(|l| l.seq);
        if last_revocation.is_none() && !force {
            return Ok(0);
        }
        let token = self.device_token()?;
        let pending = self.not_sealed_to(&chain).await?;
        let mut rotated = 0;
        for v in vaults {
            if !force
                && v.epoch_chain_seq
                    .zip(last_revocation)
                    .is_some_and(|(s, revoked_at)| s >= revoked_at)
            {
                continue;
            }
            // A key holder of the vault rotates from the epoch the server has, even one it
            // never received (made by a device revoked since: its envelope is refused).
            if self.inner.store.vault_key_epochs(v.id)?.is_empty() {
                continue;
            }
            let epoch = v.epoch + 1;
            let key = VaultKey::generate()?;
            let mut envelopes = Vec::new();
            // Every live key holder, the recovery key included, gets the new epoch (not a
            // device whose revocation is decided, nor one the server disabled or does not
            // list as trusted).
            for m in chain.live().filter(|m| !pending.contains(&m.member.id)) {
                let ctx = ChainEnvelopeContext {
                    purpose: EnvelopePurpose::Rotation,
                    user_id: chain.user(),
                    sender_id: me.id,
                    recipient_id: m.member.id,
                    vault_id: v.id,
                    epoch,
                };
                envelopes.push(NewChainEnvelope {
                    recipient: m.member.id,
                    epoch,
                    envelope: Bytes(seal_chain_envelope(&key, &identity, &m.member, &ctx)?),
                });
            }
            let r: Result<()> = self
                .guard(
                    self.inner
                        .transport
                        .post(
                            &routes::fill(routes::VAULT_ROTATE, &[&v.id]),
                            Some(&token),
                            &RotateVault {
                                epoch,
                                chain_seq: chain.head().seq,
                                envelopes,
                            },
                        )
                        .await,
                )
                .await;
            match r {
                // Another key holder rotated first: its key arrives as an envelope.
                Err(Error::Server {
                    code: ErrorCode::VersionConflict,
                    ..
                }) => continue,
                Err(e) => return Err(e),
                Ok(()) => {}
            }
            // The new key and the mark that this device re-encrypts the old items land
            // together.
            let marker = super::reencrypt::marker(v.id);
            self.inner.store.apply(&[
                Change::VaultKey {
                    vault_id: v.id,
                    epoch,
                    key: &key,
                },
                Change::Setting {
                    name: &marker,
                    value: "1",
                },
            ])?;
            for m in chain.live() {
                self.inner.store.mark_key_shared(v.id, epoch, m.member.id)?;
            }
            self.inner
                .store
                .audit("key_rotated", &format!("{} to epoch {epoch}", v.id))?;
            log::debug!("rotated a vault to epoch {epoch}");
            rotated += 1;
        }
        Ok(rotated)
    }
}

fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// Key holders the server listed as disabled at the last sync (setting).
const SERVER_DISABLED: &str = "chain.server_disabled";
/// Those the vault keys were rotated away from since (setting).
const ROTATED_AWAY: &str = "chain.rotated_away";

/// Parses a comma-separated id list setting.
pub(super) fn id_list(setting: Option<String>) -> Vec<Uuid> {
    setting
        .unwrap_or_default()
        .split(',')
        .filter_map(|id| Uuid::parse_str(id).ok())
        .collect()
}

/// Writes an id list setting.
pub(super) fn join_ids(ids: &[Uuid]) -> String {
    ids.iter()
        .map(Uuid::to_string)
        .collect::<Vec<_>>()
        .join(",")
}
