//! The vouch chain, as defined once in [`vouch_proto::chain`] (shared with the server):
//! links, their verification from the root, and the signing key type.

pub use vouch_proto::chain::{
    Chain, ChainError, ChainKey, HASH_LEN, Head, LINK_V1, LINK_V2, Link, LinkBody, Member,
    MemberState, NO_PREV, Role, SIG_LEN, Unsigned, verify_signature, vouch_claim,
};
