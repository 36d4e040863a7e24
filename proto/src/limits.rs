//! Product limits and defaults, named once (DESIGN.md "Rules the product keeps").

/// Non-disabled devices a user may have (rule 5).
pub const DEFAULT_DEVICE_LIMIT: u32 = 20;
/// Seconds an email code stays valid (rule 3).
pub const DEFAULT_CODE_TTL_SECS: u64 = 300;
/// Seconds an approval request stays open (rule 4).
pub const DEFAULT_APPROVAL_TTL_SECS: u64 = 600;
/// Wrong tries that void one email code (rule 3).
pub const CODE_MAX_ATTEMPTS: u32 = 5;
/// Consecutive failures that lock an account's code verification (rule 3).
pub const CODE_LOCK_AFTER_FAILURES: u32 = 100;
/// Minimum seconds between two codes sent for one device (re-send throttle).
pub const CODE_RESEND_INTERVAL_SECS: u64 = 30;
/// Wrong passwords for one email before sign-in slows down (password guessing,
/// SP 800-63B §5.2.2).
pub const LOGIN_FREE_FAILURES: u32 = 5;
/// Longest wait between two sign-in attempts after repeated wrong passwords; the wait
/// doubles from 1 s per failure up to this. No hard lock: without an unlock path it
/// would let anyone who knows an email lock its owner out.
pub const LOGIN_MAX_BACKOFF_SECS: u64 = 900;
/// Wrong passwords for one email, from every address together, before sign-in slows down
/// for that email everywhere: the ceiling against guessing spread over many addresses,
/// high enough that a stranger alone cannot lock the owner out (the per-address count
/// above slows the stranger long before).
pub const LOGIN_EMAIL_FREE_FAILURES: u32 = 50;
/// Wrong passwords from one client address, for any emails, before sign-in slows down for
/// that address (credential stuffing from one host).
pub const LOGIN_ADDRESS_FREE_FAILURES: u32 = 100;
/// Sign-in failure counts older than this start again from zero.
pub const LOGIN_FAILURE_WINDOW_SECS: u64 = 3600;
/// Digits of an email code.
pub const CODE_DIGITS: usize = 6;
/// Approval requests a user may open per [`APPROVAL_WINDOW_SECS`] (prompt throttle).
pub const APPROVAL_REQUESTS_PER_WINDOW: u32 = 5;
/// Window of the approval prompt throttle.
pub const APPROVAL_WINDOW_SECS: u64 = 600;
/// Seconds an account token (from sign-in) lives.
pub const ACCOUNT_TOKEN_TTL_SECS: u64 = 24 * 3600;
/// Largest request body the server accepts.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Most item records one answer of `GET /v1/vaults/{id}/items` carries, oldest change
/// first: a full page means more may follow (ask again from its last `seq`). With items
/// under [`MAX_BODY_BYTES`], a page stays far below [`MAX_ANSWER_BYTES`].
pub const ITEMS_PAGE: usize = 200;
/// Largest answer body a client reads (and most bytes of one event stream connection
/// before it reconnects): a server cannot make a phone buffer without end.
pub const MAX_ANSWER_BYTES: usize = 32 * 1024 * 1024;
/// Device name length bounds, in characters (rule 2).
pub const DEVICE_NAME_MAX_CHARS: usize = 64;
/// Vault name length bound, in characters after trimming.
pub const VAULT_NAME_MAX_CHARS: usize = 128;
