//! One link of the vouch chain: its canonical bytes (what is signed, hashed, stored and
//! sent — one form for all four), and how a key holder signs one.
//!
//! Layout (all integers big-endian), the *unsigned part* first:
//! `version (1) ‖ user (16) ‖ seq (8) ‖ prev hash (32) ‖ made_at (8, i64 seconds) ‖
//! signer key (32) ‖ kind (1) ‖ body`, then the signatures: a vouch carries the new
//! member's reverse signature (64) over its [`vouch_claim`], and every link ends with the
//! signer's signature (64) over the unsigned part and the reverse signature. The first
//! 57 bytes are the header the server reads ([`super::LinkHeader`]).
//!
//! Bodies: root and vouch carry a member `id (16) ‖ role (1) ‖ x25519 (32) ‖ ed25519 (32)`,
//! a vouch then the approver's id (16); a revocation the revoked member's id (16).

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::{
    ChainError, LINK_HASH_LEN as HASH_LEN, LINK_NAME_MAX_BYTES, LINK_V1, LINK_V2, NO_PREV,
};

const SIGN_LABEL: &[u8] = b"vouch/chain/v1/sign\0";
const REVERSE_LABEL: &[u8] = b"vouch/chain/v1/reverse\0";

const KIND_ROOT: u8 = 1;
const KIND_VOUCH: u8 = 2;
const KIND_REVOKE: u8 = 3;
const ROLE_DEVICE: u8 = 1;
const ROLE_RECOVERY: u8 = 2;
/// Length of an Ed25519 signature.
pub const SIG_LEN: usize = 64;

/// What a member of the chain is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A device of the user.
    Device,
    /// The recovery key (derived from words the user wrote down; never online).
    RecoveryKey,
}

/// A key holder as the chain names it: its id and both public keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    /// Device id (or the recovery key's id).
    pub id: Uuid,
    /// Device or recovery key.
    pub role: Role,
    /// X25519 key vault keys are sealed to.
    pub x25519: [u8; 32],
    /// Ed25519 key its links are signed with.
    pub ed25519: [u8; 32],
}

/// What a link says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkBody {
    /// The user's first key holder vouches for itself.
    Root(Member),
    /// The key holder `approver` vouches for a new key holder (an approval).
    Vouch {
        /// The new key holder.
        member: Member,
        /// The approving key holder's id (the signer).
        approver: Uuid,
    },
    /// A key holder revokes one (a disable): it receives no more keys and shreds its own.
    Revoke {
        /// The revoked member's id.
        member: Uuid,
    },
}

/// A signed link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The user whose chain this is.
    pub user: Uuid,
    /// Position: 0 for the root, then 1, 2, … (links are ordered by this, never by time).
    pub seq: u64,
    /// Hash of the link before (`NO_PREV` for the root).
    pub prev: [u8; HASH_LEN],
    /// When the signer made it (informative; never used for order).
    pub made_at: i64,
    /// The signer's Ed25519 key.
    pub signer: [u8; 32],
    /// What it says.
    pub body: LinkBody,
    /// The device name the signer vouched under (root and vouch links of format v2; a
    /// v1 link names none). Signed with the rest.
    pub name: Option<String>,
    /// A vouch's counter-signature by the new member.
    pub reverse_sig: Option<[u8; SIG_LEN]>,
    /// The signer's signature.
    pub sig: [u8; SIG_LEN],
}

/// A link before it is signed; [`Unsigned::reverse_sign`] (vouches) then
/// [`Unsigned::sign`] make the [`Link`].
#[derive(Debug, Clone)]
pub struct Unsigned {
    link: Link,
}

impl Unsigned {
    /// The root: `member` vouches for itself (signs with its own key).
    pub fn root(user: Uuid, member: Member, made_at: i64) -> Self {
        Self::new(
            user,
            0,
            NO_PREV,
            made_at,
            member.ed25519,
            LinkBody::Root(member),
        )
    }

    /// The link after `prev`, signed by `signer` (a live member's Ed25519 key).
    pub fn after(prev: &Link, signer: [u8; 32], body: LinkBody, made_at: i64) -> Self {
        Self::new(prev.user, prev.seq + 1, prev.hash(), made_at, signer, body)
    }

    fn new(
        user: Uuid,
        seq: u64,
        prev: [u8; HASH_LEN],
        made_at: i64,
        signer: [u8; 32],
        body: LinkBody,
    ) -> Self {
        Self {
            link: Link {
                user,
                seq,
                prev,
                made_at,
                signer,
                body,
                name: None,
                reverse_sig: None,
                sig: [0; SIG_LEN],
            },
        }
    }

    /// Names the member a root or vouch adds (format v2): the device name the signer
    /// vouches under. A name that a link cannot carry (empty, longer than
    /// [`LINK_NAME_MAX_BYTES`], a character unsafe to show) leaves the link unnamed.
    pub fn named(mut self, name: &str) -> Self {
        let name = name.trim();
        let fits = !name.is_empty()
            && name.len() <= LINK_NAME_MAX_BYTES
            && !name.chars().any(crate::unsafe_to_show);
        if fits && !matches!(self.link.body, LinkBody::Revoke { .. }) {
            self.link.name = Some(name.to_owned());
        }
        self
    }

    /// The bytes the new member counter-signs (what its device shows it agrees to).
    pub fn reverse_message(&self) -> Vec<u8> {
        self.link.reverse_message()
    }

    /// The new member's counter-signature (a vouch needs it; made on the new device).
    pub fn reverse_sign(mut self, new_member: &ChainKey) -> Self {
        self.link.reverse_sig = Some(new_member.sign(&self.reverse_message()));
        self
    }

    /// Adds a counter-signature made elsewhere (the new device sent it).
    pub fn with_reverse_sig(mut self, sig: [u8; SIG_LEN]) -> Self {
        self.link.reverse_sig = Some(sig);
        self
    }

    /// The signer's signature: the finished link.
    pub fn sign(mut self, signer: &ChainKey) -> Link {
        self.link.sig = signer.sign(&self.link.signed_message());
        self.link
    }
}

impl Link {
    /// Canonical bytes (stored and sent as they are).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.unsigned_bytes();
        if let Some(r) = &self.reverse_sig {
            out.extend_from_slice(r);
        }
        out.extend_from_slice(&self.sig);
        out
    }

    /// Parses canonical bytes: exact lengths, known version, kind and role, no trailing
    /// bytes. Signatures are checked by the chain's rules, not here.
    pub fn decode(bytes: &[u8]) -> Result<Self, ChainError> {
        let mut r = Reader(bytes);
        let version = r.byte()?;
        if !matches!(version, LINK_V1 | LINK_V2) {
            return Err(ChainError::Malformed);
        }
        let user = r.uuid()?;
        let seq = u64::from_be_bytes(r.array()?);
        let prev = r.array()?;
        let made_at = i64::from_be_bytes(r.array()?);
        let signer = r.array()?;
        let body = match r.byte()? {
            KIND_ROOT => LinkBody::Root(r.member()?),
            KIND_VOUCH => LinkBody::Vouch {
                member: r.member()?,
                approver: r.uuid()?,
            },
            KIND_REVOKE => LinkBody::Revoke { member: r.uuid()? },
            _ => return Err(ChainError::Malformed),
        };
        let name = match (version, body) {
            (LINK_V1, _) => None,
            (_, LinkBody::Revoke { .. }) => return Err(ChainError::Malformed),
            _ => {
                let len = usize::from(r.byte()?);
                let name = std::str::from_utf8(r.take(len)?).map_err(|_| ChainError::Malformed)?;
                if name.is_empty() || name.trim() != name || name.chars().any(crate::unsafe_to_show)
                {
                    return Err(ChainError::Malformed);
                }
                Some(name.to_owned())
            }
        };
        let reverse_sig = match body {
            LinkBody::Vouch { .. } => Some(r.array()?),
            _ => None,
        };
        let sig = r.array()?;
        if !r.0.is_empty() {
            return Err(ChainError::Malformed);
        }
        Ok(Self {
            user,
            seq,
            prev,
            made_at,
            signer,
            body,
            name,
            reverse_sig,
            sig,
        })
    }

    /// This link's hash: what the next link's `prev` names (over every byte, signatures
    /// included).
    pub fn hash(&self) -> [u8; HASH_LEN] {
        super::link_hash(&self.encode())
    }

    pub(super) fn unsigned_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        out.push(if self.name.is_some() {
            LINK_V2
        } else {
            LINK_V1
        });
        out.extend_from_slice(self.user.as_bytes());
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.prev);
        out.extend_from_slice(&self.made_at.to_be_bytes());
        out.extend_from_slice(&self.signer);
        match &self.body {
            LinkBody::Root(m) => {
                out.push(KIND_ROOT);
                put_member(&mut out, m);
            }
            LinkBody::Vouch { member, approver } => {
                out.push(KIND_VOUCH);
                put_member(&mut out, member);
                out.extend_from_slice(approver.as_bytes());
            }
            LinkBody::Revoke { member } => {
                out.push(KIND_REVOKE);
                out.extend_from_slice(member.as_bytes());
            }
        }
        if let Some(name) = &self.name {
            // At most LINK_NAME_MAX_BYTES (checked where a name is set or read).
            out.push(name.len().min(LINK_NAME_MAX_BYTES) as u8);
            out.extend_from_slice(name.as_bytes());
        }
        out
    }

    pub(super) fn signed_message(&self) -> Vec<u8> {
        let mut m = labelled(SIGN_LABEL, &self.unsigned_bytes());
        if let Some(r) = &self.reverse_sig {
            m.extend_from_slice(r);
        }
        m
    }

    pub(super) fn reverse_message(&self) -> Vec<u8> {
        match &self.body {
            LinkBody::Vouch { member, approver } => vouch_claim(self.user, member, *approver),
            _ => Vec::new(),
        }
    }
}

/// What a new member counter-signs before it is vouched for: that it, with these keys,
/// joins `user`'s chain on `approver`'s word. It names no position, so the new device can
/// sign it while answering the approval; a member joins a chain once (its id and keys are
/// refused the second time), so the signature cannot be replayed elsewhere on it.
pub fn vouch_claim(user: Uuid, member: &Member, approver: Uuid) -> Vec<u8> {
    let mut claim = Vec::with_capacity(16 + 81 + 16);
    claim.extend_from_slice(user.as_bytes());
    put_member(&mut claim, member);
    claim.extend_from_slice(approver.as_bytes());
    labelled(REVERSE_LABEL, &claim)
}

/// Checks `sig` by `key` over `msg` (strict: no malleable or small-order keys).
pub fn verify(key: &[u8; 32], msg: &[u8], sig: &[u8; SIG_LEN]) -> Result<(), ChainError> {
    let key = VerifyingKey::from_bytes(key).map_err(|_| ChainError::BadKey)?;
    if key.is_weak() {
        return Err(ChainError::BadKey);
    }
    key.verify_strict(msg, &Signature::from_bytes(sig))
        .map_err(|_| ChainError::BadSignature)
}

/// A member's Ed25519 signing key (zeroized on drop; never leaves the device).
pub struct ChainKey(SigningKey);

impl ChainKey {
    /// A fresh key from the OS's random generator (`None` if it is unavailable).
    pub fn generate() -> Option<Self> {
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::fill(seed.as_mut()).ok()?;
        Some(Self(SigningKey::from_bytes(&seed)))
    }

    /// The key from its 32-byte seed (as stored in the device's encrypted store).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self(SigningKey::from_bytes(seed))
    }

    /// The seed, for the encrypted store.
    pub fn seed(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.0.to_bytes())
    }

    /// The public key (its id on the chain).
    pub fn public(&self) -> [u8; 32] {
        self.0.verifying_key().to_bytes()
    }

    /// Signs `msg` (a vouch claim or a chain envelope; links sign through [`Unsigned`]).
    pub fn sign(&self, msg: &[u8]) -> [u8; SIG_LEN] {
        self.0.sign(msg).to_bytes()
    }
}

impl std::fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret half never prints.
        f.debug_struct("ChainKey").finish_non_exhaustive()
    }
}

fn labelled(label: &[u8], bytes: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(label.len() + bytes.len() + SIG_LEN);
    m.extend_from_slice(label);
    m.extend_from_slice(bytes);
    m
}

fn put_member(out: &mut Vec<u8>, m: &Member) {
    out.extend_from_slice(m.id.as_bytes());
    out.push(match m.role {
        Role::Device => ROLE_DEVICE,
        Role::RecoveryKey => ROLE_RECOVERY,
    });
    out.extend_from_slice(&m.x25519);
    out.extend_from_slice(&m.ed25519);
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], ChainError> {
        if self.0.len() < n {
            return Err(ChainError::Malformed);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn byte(&mut self) -> Result<u8, ChainError> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], ChainError> {
        self.take(N)?.try_into().map_err(|_| ChainError::Malformed)
    }

    fn uuid(&mut self) -> Result<Uuid, ChainError> {
        Ok(Uuid::from_bytes(self.array()?))
    }

    fn member(&mut self) -> Result<Member, ChainError> {
        let id = self.uuid()?;
        let role = match self.byte()? {
            ROLE_DEVICE => Role::Device,
            ROLE_RECOVERY => Role::RecoveryKey,
            _ => return Err(ChainError::Malformed),
        };
        Ok(Member {
            id,
            role,
            x25519: self.array()?,
            ed25519: self.array()?,
        })
    }
}
