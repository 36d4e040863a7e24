//! The vouch chain (DESIGN § The vouch chain), one definition for the client and the
//! server: the links' canonical bytes and signatures ([`Link`], [`Unsigned`]), their
//! verification from the root ([`Chain`]), a link's fixed header and hash (what the server
//! reads to keep the chain in order), and the bodies of the chain and chain-envelope
//! routes.
//!
//! Every client verifies the whole chain itself before it seals a key to anyone on it.
//! The server keeps links in order (position and previous hash, so two appends cannot
//! fork what it stores) and verifies signatures only where it grants a power on a link's
//! word (a recovery key vouching for a device).

mod link;
mod verify;

pub use link::{
    ChainKey, Link, LinkBody, Member, Role, SIG_LEN, Unsigned, verify as verify_signature,
    vouch_claim,
};
pub use verify::{Chain, ChainError, Head, MemberState};

/// Length of a link hash (alias of [`LINK_HASH_LEN`]).
pub const HASH_LEN: usize = LINK_HASH_LEN;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

use crate::Bytes;

/// Format version of a link.
pub const LINK_V1: u8 = 1;
/// Format version of a root or vouch link that names its member: the v1 bytes, then
/// `name length (1) ‖ name (UTF-8)` — the device name the signer vouched under (for a
/// vouch, the name bound in the approval's transcript). The server's list names devices as
/// it likes; the chain's names are what a key holder signed.
pub const LINK_V2: u8 = 2;
/// Longest name a link carries, in bytes.
pub const LINK_NAME_MAX_BYTES: usize = 255;
/// Length of a link hash (SHA-256).
pub const LINK_HASH_LEN: usize = 32;
/// The `prev` of the root link.
pub const NO_PREV: [u8; LINK_HASH_LEN] = [0; LINK_HASH_LEN];
/// Length of the header every link starts with: version, user, position, previous hash.
pub const LINK_HEADER_LEN: usize = 1 + 16 + 8 + LINK_HASH_LEN;
/// Largest link accepted (a vouch is 323 bytes; room for later kinds).
pub const MAX_LINK_LEN: usize = 1024;
/// Most envelopes one upload carries (every live key holder of a user, with room).
pub const MAX_CHAIN_ENVELOPES: usize = 64;

const HASH_LABEL: &[u8] = b"vouch/chain/v1/link\0";

/// Where a link says it stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkHeader {
    /// Whose chain.
    pub user: Uuid,
    /// Position (0 for the root).
    pub seq: u64,
    /// Hash of the link before it.
    pub prev: [u8; LINK_HASH_LEN],
}

impl LinkHeader {
    /// Reads the header of a link's canonical bytes; `None` when the bytes are too short,
    /// too long or of another version.
    pub fn parse(link: &[u8]) -> Option<Self> {
        if link.len() < LINK_HEADER_LEN
            || link.len() > MAX_LINK_LEN
            || !matches!(link[0], LINK_V1 | LINK_V2)
        {
            return None;
        }
        Some(Self {
            user: Uuid::from_slice(&link[1..17]).ok()?,
            seq: u64::from_be_bytes(link[17..25].try_into().ok()?),
            prev: link[25..LINK_HEADER_LEN].try_into().ok()?,
        })
    }
}

/// A link's hash over all its bytes (signatures included): what the next link's `prev`
/// names.
pub fn link_hash(link: &[u8]) -> [u8; LINK_HASH_LEN] {
    Sha256::new()
        .chain_update(HASH_LABEL)
        .chain_update(link)
        .finalize()
        .into()
}

wire! {
    /// `GET /v1/chain`: the user's links in order, from the root (empty before the first
    /// key holder made one).
    pub struct ChainLinks {
        /// Canonical link bytes, position 0 first.
        pub links: Vec<Bytes>,
    }
}

wire! {
    /// `POST /v1/chain` body: the next link (a root on an empty chain, or a revocation).
    pub struct AppendLink {
        /// Canonical link bytes.
        #[cfg_attr(feature = "openapi", schema(value_type = String, format = "base64url", min_length = 76, max_length = 1366, pattern = r"^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-][AQgw]|[A-Za-z0-9_-]{2}[AEIMQUYcgkosw048])?$"))]
        pub link: Bytes,
    }
}

wire! {
    /// A vault key sealed by one key holder to another on the verified chain.
    pub struct NewChainEnvelope {
        /// The receiving device (a member of the sender's verified chain).
        pub recipient: Uuid,
        /// The key's epoch.
        #[cfg_attr(feature = "openapi", schema(value_type = i64, minimum = 0, maximum = 4294967295_i64))]
        pub epoch: u32,
        /// The signed, sealed key (`vouch_core` chain-envelope bytes).
        #[cfg_attr(feature = "openapi", schema(value_type = String, format = "base64url", min_length = 2, max_length = 512, pattern = r"^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-][AQgw]|[A-Za-z0-9_-]{2}[AEIMQUYcgkosw048])?$"))]
        pub envelope: Bytes,
    }
}

wire! {
    /// `POST /v1/vaults/{id}/envelopes` body: a vault's key for the user's other key
    /// holders.
    pub struct PostChainEnvelopes {
        /// One per recipient and epoch.
        #[cfg_attr(feature = "openapi", schema(max_items = 64))]
        pub envelopes: Vec<NewChainEnvelope>,
    }
}

wire! {
    /// `POST /v1/vaults/{id}/rotate` body: a new key epoch, sealed to every live key
    /// holder on the rotator's verified chain (itself included).
    pub struct RotateVault {
        /// The new epoch: the vault's current one plus one (`version_conflict` otherwise:
        /// another key holder rotated first).
        #[cfg_attr(feature = "openapi", schema(value_type = i64, minimum = 0, maximum = 4294967295_i64))]
        pub epoch: u32,
        /// The chain position the rotator verified.
        pub chain_seq: u64,
        /// One per key holder.
        #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 64))]
        pub envelopes: Vec<NewChainEnvelope>,
    }
}

wire! {
    /// `POST /v1/recovery/restore` body: the recovery key's vouch for the calling device.
    pub struct RecoveryRestore {
        /// Canonical link bytes.
        #[cfg_attr(feature = "openapi", schema(value_type = String, format = "base64url", min_length = 76, max_length = 1366, pattern = r"^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-][AQgw]|[A-Za-z0-9_-]{2}[AEIMQUYcgkosw048])?$"))]
        pub link: Bytes,
    }
}

wire! {
    /// A vault key waiting for this device (`GET /v1/envelopes`).
    pub struct ChainEnvelope {
        /// The vault.
        pub vault_id: Uuid,
        /// The key's epoch.
        pub epoch: u32,
        /// The device that sealed it (checked against the chain, never trusted as sent).
        pub sender: Uuid,
        /// The signed, sealed key.
        pub envelope: Bytes,
    }
}

wire! {
    /// `GET /v1/envelopes` response.
    pub struct ChainEnvelopes {
        /// Every vault key sealed to this device by another key holder.
        pub envelopes: Vec<ChainEnvelope>,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_reads_position_and_refuses_odd_sizes() {
        let mut link = vec![LINK_V1];
        link.extend_from_slice(Uuid::from_u128(7).as_bytes());
        link.extend_from_slice(&3u64.to_be_bytes());
        link.extend_from_slice(&[9; LINK_HASH_LEN]);
        let h = LinkHeader::parse(&link).unwrap();
        assert_eq!((h.user, h.seq, h.prev), (Uuid::from_u128(7), 3, [9; 32]));
        assert_eq!(LinkHeader::parse(&link[..LINK_HEADER_LEN - 1]), None);
        link[0] = LINK_V2;
        assert_eq!(LinkHeader::parse(&link).map(|h| h.seq), Some(3));
        link[0] = 3;
        assert_eq!(LinkHeader::parse(&link), None);
        assert_eq!(LinkHeader::parse(&vec![LINK_V1; MAX_LINK_LEN + 1]), None);
    }
}
