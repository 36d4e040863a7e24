//! The vouch chain (DESIGN § The vouch chain): the user's list of key holders, each link
//! signed by a key holder already on it, so that the server stores and serves the list but
//! cannot add to it, drop from it, reorder it or fork it without every device noticing.
//!
//! A chain is verified from its root as a whole ([`Chain::verify`]); a device that has
//! seen a chain before also checks that the new one extends what it saw
//! ([`Chain::verify_extension`]) — a server that serves an older or a different history
//! is refused. What the chain cannot show is a link the server withholds: freshness
//! comes from the event stream (docs/SECURITY.md).

use std::collections::BTreeMap;

use uuid::Uuid;

use super::{
    HASH_LEN, NO_PREV,
    link::{self, Link, LinkBody, Member, Role},
};

/// Why a chain was refused. Nothing in it is used until it verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// A link's bytes do not follow the layout.
    #[error("a link of the chain is malformed")]
    Malformed,
    /// The chain has no links.
    #[error("the chain is empty")]
    Empty,
    /// A link names another user, or the chain does not start with a root.
    #[error("the chain belongs to another user or has no root")]
    WrongUser,
    /// A link is out of place: its position or its `prev` hash is not the one before it
    /// (a dropped, inserted or reordered link).
    #[error("a link of the chain is out of order (dropped, inserted or reordered)")]
    OutOfOrder,
    /// A link is signed by a key that is not a live key holder at that point (a key the
    /// server slipped in, or a revoked member).
    #[error("a link is signed by a key that is not a key holder")]
    NotAKeyHolder,
    /// A signature does not verify (a changed byte, a forged link).
    #[error("a signature of the chain does not verify")]
    BadSignature,
    /// A key is not a valid Ed25519 / X25519 public key.
    #[error("a key on the chain is not valid")]
    BadKey,
    /// A vouch adds a member id or key the chain already had, a vouch names another
    /// approver than its signer, or a revocation names a member that is not live.
    #[error("a link adds a known member or revokes one that is not live")]
    BadMember,
    /// The chain is older than one this device already verified (a rollback).
    #[error("the chain is older than the one this device has seen")]
    Rollback,
    /// The chain differs from the one this device verified at the same position (a fork).
    #[error("the chain forks from the one this device has seen")]
    Fork,
}

/// A member as the verified chain knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberState {
    /// Its keys.
    pub member: Member,
    /// Position of the link that added it.
    pub added_at: u64,
    /// Position of the link that revoked it, if one did.
    pub revoked_at: Option<u64>,
    /// The member whose vouch added it (`None` for the root).
    pub vouched_by: Option<Uuid>,
}

impl MemberState {
    /// Still a key holder.
    pub fn is_live(&self) -> bool {
        self.revoked_at.is_none()
    }
}

/// A verified chain: who holds the keys now, and where the chain stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    user: Uuid,
    members: BTreeMap<Uuid, MemberState>,
    /// The names members were vouched under (v2 links).
    names: BTreeMap<Uuid, String>,
    head: Head,
}

/// Where a chain stands: its last position and that link's hash. A device keeps the
/// highest head it has verified and refuses a chain that does not contain it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// Last position.
    pub seq: u64,
    /// Hash of the link there.
    pub hash: [u8; HASH_LEN],
}

impl Chain {
    /// Verifies `links` of `user` from the root: positions 0, 1, 2…, each `prev` the hash
    /// of the link before, every signature by a key that is a live key holder at that
    /// point, every vouch counter-signed by the member it adds.
    pub fn verify(user: Uuid, links: &[Link]) -> Result<Self, ChainError> {
        let (root, rest) = links.split_first().ok_or(ChainError::Empty)?;
        let LinkBody::Root(first) = root.body else {
            return Err(ChainError::WrongUser);
        };
        if root.user != user {
            return Err(ChainError::WrongUser);
        }
        if root.seq != 0 || root.prev != NO_PREV {
            return Err(ChainError::OutOfOrder);
        }
        if root.signer != first.ed25519 || first.role != Role::Device {
            return Err(ChainError::NotAKeyHolder);
        }
        check_member_keys(&first)?;
        link::verify(&root.signer, &root.signed_message(), &root.sig)?;
        let mut chain = Self {
            user,
            members: BTreeMap::from([(
                first.id,
                MemberState {
                    member: first,
                    added_at: 0,
                    revoked_at: None,
                    vouched_by: None,
                },
            )]),
            names: root.name.iter().map(|n| (first.id, n.clone())).collect(),
            head: Head {
                seq: 0,
                hash: root.hash(),
            },
        };
        for l in rest {
            chain.apply(l)?;
        }
        Ok(chain)
    }

    /// [`Chain::verify`], and `links` must contain the chain this device verified before
    /// (`known`): the same link at `known.seq`. A shorter chain is a rollback, another
    /// link there a fork.
    pub fn verify_extension(user: Uuid, links: &[Link], known: Head) -> Result<Self, ChainError> {
        let chain = Self::verify(user, links)?;
        let Some(at) = usize::try_from(known.seq).ok().and_then(|i| links.get(i)) else {
            return Err(ChainError::Rollback);
        };
        if at.hash() != known.hash {
            return Err(ChainError::Fork);
        }
        Ok(chain)
    }

    fn apply(&mut self, l: &Link) -> Result<(), ChainError> {
        if l.user != self.user {
            return Err(ChainError::WrongUser);
        }
        if l.seq != self.head.seq + 1 || l.prev != self.head.hash {
            return Err(ChainError::OutOfOrder);
        }
        let signer = self
            .live()
            .find(|m| m.member.ed25519 == l.signer)
            .ok_or(ChainError::NotAKeyHolder)?
            .member;
        link::verify(&l.signer, &l.signed_message(), &l.sig)?;
        match l.body {
            LinkBody::Root(_) => return Err(ChainError::OutOfOrder),
            LinkBody::Vouch { member, approver } => {
                // A device vouches for anyone; the recovery key only for a device (the one
                // its words were entered on), never for another recovery key.
                if approver != signer.id
                    || (signer.role == Role::RecoveryKey && member.role != Role::Device)
                {
                    return Err(ChainError::BadMember);
                }
                let known = self.members.values().any(|m| {
                    m.member.id == member.id
                        || m.member.ed25519 == member.ed25519
                        || m.member.x25519 == member.x25519
                });
                if known {
                    return Err(ChainError::BadMember);
                }
                check_member_keys(&member)?;
                let reverse = l.reverse_sig.ok_or(ChainError::BadSignature)?;
                link::verify(&member.ed25519, &l.reverse_message(), &reverse)?;
                self.members.insert(
                    member.id,
                    MemberState {
                        member,
                        added_at: l.seq,
                        revoked_at: None,
                        vouched_by: Some(approver),
                    },
                );
                if let Some(name) = &l.name {
                    self.names.insert(member.id, name.clone());
                }
            }
            LinkBody::Revoke { member } => {
                let m = self
                    .members
                    .get_mut(&member)
                    .filter(|m| m.is_live())
                    .ok_or(ChainError::BadMember)?;
                m.revoked_at = Some(l.seq);
            }
        }
        self.head = Head {
            seq: l.seq,
            hash: l.hash(),
        };
        Ok(())
    }

    /// The device name member `id` was vouched under (signed on the chain; `None` for a
    /// v1 link or a recovery key). Unlike the server's device list, the server cannot
    /// change it.
    pub fn name_of(&self, id: Uuid) -> Option<&str> {
        self.names.get(&id).map(String::as_str)
    }

    /// The user.
    pub fn user(&self) -> Uuid {
        self.user
    }

    /// Where the chain stands.
    pub fn head(&self) -> Head {
        self.head
    }

    /// The live key holders: the only keys vault keys are sealed to.
    pub fn live(&self) -> impl Iterator<Item = &MemberState> {
        self.members.values().filter(|m| m.is_live())
    }

    /// A member, live or revoked.
    pub fn member(&self, id: Uuid) -> Option<&MemberState> {
        self.members.get(&id)
    }

    /// Every member, live or revoked, with the member that vouched for it (`None` for
    /// the root).
    pub fn members(&self) -> impl Iterator<Item = (&MemberState, Option<Uuid>)> {
        self.members.values().map(|m| (m, m.vouched_by))
    }
}

fn check_member_keys(m: &Member) -> Result<(), ChainError> {
    crate::validate_x25519(&m.x25519).map_err(|_| ChainError::BadKey)?;
    let key =
        ed25519_dalek::VerifyingKey::from_bytes(&m.ed25519).map_err(|_| ChainError::BadKey)?;
    if key.is_weak() {
        return Err(ChainError::BadKey);
    }
    Ok(())
}
