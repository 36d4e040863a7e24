//! The recovery key from a device's side (issue 15): create it on a key holder (24 words,
//! vouched into the chain, sealed every vault key), use it on a new device when every
//! device is lost (the words make that device a key holder and bring the vault keys
//! back), replace or revoke it in one step.

use time::OffsetDateTime;
use uuid::Uuid;
use vouch_proto::{
    Bytes, Disabled, ErrorCode,
    chain::{ChainEnvelopes, RecoveryRestore},
    routes,
};
use zeroize::Zeroizing;

use super::{Client, EnrollmentState};
use crate::{
    chain::{ChainError, LinkBody, Role, Unsigned},
    crypto::{ChainEnvelopeContext, RecoveryKey, chain_envelope_purpose, open_chain_envelope},
    error::{Error, Result},
    store::Change,
};

const APPEND_ATTEMPTS: usize = 3;
/// The setting that holds the devices a recovery still has to revoke.
const PENDING_REVOCATIONS: &str = "recovery.pending_revocations";

/// What using a recovery key did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// The device's state now (a key holder).
    pub state: EnrollmentState,
    /// How many vault keys came back.
    pub vault_keys: u32,
    /// The devices revoked on the chain (the lost ones: every other device that was a key
    /// holder), also disabled on the server when this device may (a web device); the
    /// vault keys were rotated away from them.
    pub revoked: Vec<Uuid>,
    /// The user's other devices verified by email only, or registered and not verified
    /// yet (they hold no key, so the chain does not name them), disabled by the server with
    /// the restore: after every key holder was lost they are as likely a thief's (with the
    /// password and the mailbox) as the user's. Empty when the restore happened in an
    /// earlier, interrupted try.
    pub disabled: Vec<Uuid>,
}

impl Client {
    /// Makes a new recovery key on this key holder and returns its 24 words (show them
    /// once; they are stored nowhere). It is vouched into the chain and receives every
    /// vault's key; a recovery key made before is revoked first and the keys it held are
    /// rotated (replacing is one step).
    pub async fn create_recovery_key(&self) -> Result<Zeroizing<String>> {
        self.require_key_holder_device()?;
        let identity = self.identity()?;
        let me = self.me_as_member(&identity)?;
        let chain = self
            .sync_chain()
            .await?
            .ok_or(Error::InvalidState("there is no vouch chain yet"))?;
        if chain.member(me.id).is_none_or(|m| !m.is_live()) {
            return Err(Error::Chain(ChainError::NotAKeyHolder));
        }
        let replaced = self.revoke_recovery_keys().await?;
        let (key, words) = RecoveryKey::generate()?;
        // Counted once the server shows it back: words whose key the chain does not name
        // would restore nothing.
        let appended = self
            .append_link(
                |_, last| {
                    Ok(Some(
                        Unsigned::after(
                            last,
                            me.ed25519,
                            LinkBody::Vouch {
                                member: key.member(),
                                approver: me.id,
                            },
                            now(),
                        )
                        .reverse_sign(key.identity().signing_key())
                        .sign(identity.signing_key()),
                    ))
                },
                |chain| chain.member(key.id()).is_some_and(|m| m.is_live()),
                "the server did not keep the recovery key; try again",
            )
            .await?;
        if !appended {
            return Err(Error::InvalidState("there is no vouch chain yet"));
        }
        if replaced > 0 {
            self.rotate_all().await?;
        }
        self.share_vault_keys().await?;
        self.inner
            .store
            .audit("recovery_key_created", &key.id().to_string())?;
        Ok(words)
    }

    /// Revokes the recovery key on the chain (its words stop working) and rotates the
    /// vault keys it held. `false` when there was none.
    pub async fn revoke_recovery_key(&self) -> Result<bool> {
        self.require_key_holder_device()?;
        let revoked = self.revoke_recovery_keys().await?;
        if revoked > 0 {
            self.rotate_all().await?;
        }
        Ok(revoked > 0)
    }

    async fn revoke_recovery_keys(&self) -> Result<u32> {
        let Some(chain) = self.sync_chain().await? else {
            return Ok(0);
        };
        let live: Vec<Uuid> = chain
            .live()
            .filter(|m| m.member.role == Role::RecoveryKey)
            .map(|m| m.member.id)
            .collect();
        let mut n = 0;
        for id in live {
            if self.revoke_on_chain(id).await? {
                n += 1;
            }
        }
        Ok(n)
    }

    /// Uses the recovery key's words on this device (trusted by email code after every
    /// device was lost): checked against the user's chain here first — words that are not
    /// a recovery key on it are refused without asking the server anything
    /// ([`Error::InvalidRecoveryWords`], [`Error::RecoveryKeyNotOnChain`]), so there is no
    /// oracle to guess against and nothing to lock. Then the recovery key vouches for this
    /// device (the server makes it a key holder on that signature, and disables the user's
    /// other devices verified by email only: [`Recovered::disabled`]), its vault keys are
    /// opened here, every other device still on the chain is revoked (they were lost) and
    /// every vault is rotated to this device and the recovery key.
    pub async fn use_recovery_key(&self, words: &str) -> Result<Recovered> {
        self.require_trusted_device()?;
        if self.state().is_key_holder() {
            return Err(Error::InvalidState(
                "this device already holds the vault keys: the recovery key is for a new device when every other is lost",
            ));
        }
        let key = RecoveryKey::from_words(words)?;
        let chain = self
            .sync_chain()
            .await?
            .ok_or(Error::RecoveryKeyNotOnChain)?;
        let on_chain = chain
            .member(key.id())
            .is_some_and(|m| m.is_live() && m.member == key.member());
        if !on_chain {
            self.inner.store.audit(
                "recovery_refused",
                "the words are not a recovery key on the chain",
            )?;
            return Err(Error::RecoveryKeyNotOnChain);
        }
        let identity = self.identity()?;
        let me = self.me_as_member(&identity)?;
        let token = self.device_token()?;
        let mut disabled = Vec::new();
        if chain.member(me.id).is_none_or(|m| !m.is_live()) {
            for attempt in 1..=APPEND_ATTEMPTS {
                let links = self.inner.store.chain_links()?;
                let last = links.last().ok_or(Error::Chain(ChainError::Empty))?;
                let link = Unsigned::after(
                    last,
                    key.member().ed25519,
                    LinkBody::Vouch {
                        member: me,
                        approver: key.id(),
                    },
                    now(),
                )
                .named(&self.own_name())
                .reverse_sign(identity.signing_key())
                .sign(key.identity().signing_key());
                let r: Result<Disabled> = self
                    .guard(
                        self.inner
                            .transport
                            .post(
                                routes::RECOVERY_RESTORE,
                                Some(&token),
                                &RecoveryRestore {
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
                    }) if attempt < APPEND_ATTEMPTS => {
                        self.sync_chain().await?;
                    }
                    Err(e) => return Err(e),
                    Ok(done) => {
                        disabled = done.disabled;
                        // Counted only once the server shows it back: a link kept here
                        // alone would fork this device's chain from everyone's.
                        if self
                            .sync_chain()
                            .await?
                            .is_some_and(|c| c.member(me.id).is_some_and(|m| m.is_live()))
                        {
                            break;
                        }
                        if attempt == APPEND_ATTEMPTS {
                            return Err(Error::Server {
                                code: ErrorCode::ChainConflict,
                                message: "the server did not keep the recovery key's vouch for this device".into(),
                                attempts_left: None,
                                retry_after_secs: None,
                            });
                        }
                    }
                }
            }
        }
        // This device is a key holder now: on the chain, and on the server's word too.
        let state = match self.state() {
            EnrollmentState::Trusted {
                user,
                device_id,
                device_name,
                verified_by,
                ..
            } => EnrollmentState::Trusted {
                user,
                device_id,
                device_name,
                verified_by,
                tier: vouch_proto::Tier::KeyHolder,
            },
            _ => return Err(Error::InvalidState("this device is not trusted")),
        };
        self.persist(state.clone(), None)?;
        let vault_keys = self.open_recovery_envelopes(&key).await?;
        // Every other device on the chain was lost: revoked, and the keys rotated away.
        let chain = self
            .sync_chain()
            .await?
            .ok_or(Error::Chain(ChainError::Empty))?;
        let others: Vec<Uuid> = chain
            .live()
            .filter(|m| m.member.role == Role::Device && m.member.id != me.id)
            .map(|m| m.member.id)
            .collect();
        // Decided now, kept until done: an interruption (a busy server, a lost network)
        // leaves the revocations to the next sync, and nothing is sealed to these devices
        // meanwhile.
        let list = others
            .iter()
            .map(Uuid::to_string)
            .collect::<Vec<_>>()
            .join(",");
        self.inner.store.apply(&[Change::Setting {
            name: PENDING_REVOCATIONS,
            value: &list,
        }])?;
        let revoked = self.finish_pending_revocations().await?;
        self.inner.store.audit(
            "recovered",
            &format!(
                "{vault_keys} vault key(s), {} device(s) revoked, {} email-only device(s) disabled",
                revoked.len(),
                disabled.len()
            ),
        )?;
        self.sync().await?;
        if let Some(l) = &self.inner.listener {
            l.state_changed(state.clone());
        }
        Ok(Recovered {
            state,
            vault_keys,
            revoked,
            disabled,
        })
    }

    /// The devices whose revocation was decided here (a disable, a recovery) and is not
    /// on the chain yet.
    pub(super) fn pending_revocations(&self) -> Result<Vec<Uuid>> {
        Ok(super::chain::id_list(
            self.inner.store.setting(PENDING_REVOCATIONS)?,
        ))
    }

    /// Records the person's decision to revoke `ids` (a disable from this key holder, a
    /// recovery): kept until each revocation is on the chain the server serves, and
    /// nothing is sealed to them meanwhile.
    pub(super) fn decide_revocations(&self, ids: &[Uuid]) -> Result<()> {
        let mut all = self.pending_revocations()?;
        for id in ids {
            if !all.contains(id) {
                all.push(*id);
            }
        }
        self.inner
            .store
            .set_setting(PENDING_REVOCATIONS, &super::chain::join_ids(&all))
    }

    /// Takes back decisions the server refused to act on (see
    /// [`Self::decide_revocations`]).
    pub(super) fn undecide_revocations(&self, ids: &[Uuid]) -> Result<()> {
        let left: Vec<Uuid> = self
            .pending_revocations()?
            .into_iter()
            .filter(|id| !ids.contains(id))
            .collect();
        self.inner
            .store
            .set_setting(PENDING_REVOCATIONS, &super::chain::join_ids(&left))
    }

    /// Revokes (and, from a web device, disables) the devices whose revocation was
    /// decided here, rotates every vault if any was revoked, and forgets each one once the
    /// chain the server serves shows its revocation (or does not name it). One the server
    /// did not keep stays decided — signed again at the next sync — and is the error.
    /// Returns those revoked.
    pub(super) async fn finish_pending_revocations(&self) -> Result<Vec<Uuid>> {
        let pending = self.pending_revocations()?;
        if pending.is_empty() {
            return Ok(Vec::new());
        }
        let mut revoked = Vec::new();
        let mut left = Vec::new();
        let mut failure = None;
        for id in pending {
            // Disabled on the server too where this device may (a web key holder), so the
            // lost devices lose their server powers as well; revoked on the chain always.
            let disabled = self
                .disable_on_server(id, false)
                .await
                .is_ok_and(|d| d.disabled.contains(&id));
            match self.revoke_on_chain(id).await {
                Ok(true) => revoked.push(id),
                Ok(false) if disabled => revoked.push(id),
                Ok(false) => {}
                Err(e) => {
                    left.push(id);
                    failure = Some(e);
                }
            }
        }
        // Forgotten before the rotation: one that fails is the upkeep's (every vault whose
        // key is older than the last revocation rotates at the next sync), not a reason to
        // revoke and rotate again.
        self.inner
            .store
            .set_setting(PENDING_REVOCATIONS, &super::chain::join_ids(&left))?;
        if !revoked.is_empty() {
            self.rotate_all().await?;
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(revoked),
        }
    }

    /// Opens the envelopes sealed to the recovery key, from senders live on the verified
    /// chain; a held key is never replaced. Returns how many keys were stored.
    async fn open_recovery_envelopes(&self, key: &RecoveryKey) -> Result<u32> {
        let token = self.device_token()?;
        let got: ChainEnvelopes = self
            .guard(
                self.inner
                    .transport
                    .get(
                        &routes::fill(routes::RECOVERY_ENVELOPES, &[&key.id()]),
                        Some(&token),
                    )
                    .await,
            )
            .await?;
        let chain = self.local_chain()?.ok_or(Error::Chain(ChainError::Empty))?;
        let mut keys = Vec::new();
        for e in &got.envelopes {
            if self.inner.store.vault_key(e.vault_id, e.epoch)?.is_some() {
                continue;
            }
            let Some(sender) = chain.member(e.sender).filter(|m| m.is_live()) else {
                continue;
            };
            let Ok(purpose) = chain_envelope_purpose(&e.envelope.0) else {
                continue;
            };
            let ctx = ChainEnvelopeContext {
                purpose,
                user_id: chain.user(),
                sender_id: e.sender,
                recipient_id: key.id(),
                vault_id: e.vault_id,
                epoch: e.epoch,
            };
            if let Ok(k) = open_chain_envelope(&e.envelope.0, key.identity(), &sender.member, &ctx)
            {
                keys.push((e.vault_id, e.epoch, k));
            }
        }
        let changes: Vec<Change<'_>> = keys
            .iter()
            .map(|(vault_id, epoch, key)| Change::VaultKey {
                vault_id: *vault_id,
                epoch: *epoch,
                key,
            })
            .collect();
        self.inner.store.apply(&changes)?;
        Ok(keys.len() as u32)
    }
}

fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}
