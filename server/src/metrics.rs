//! `GET /metrics`: Prometheus text (the `prometheus-client` crate). Process-wide, like a
//! Prometheus client's default registry: requests by route template and status,
//! approvals by what happened to them, email codes sent and failed, open event streams,
//! how long a write waits for the database's write lock and how long it then holds it.
//! Labels are route templates and fixed
//! words, never ids, emails or values.

use std::sync::LazyLock;

use prometheus_client::{
    encoding::{EncodeLabelSet, EncodeLabelValue},
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};

/// A request's labels: method, route template (`/v1/devices/{id}/disable`), status.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// HTTP method.
    pub method: String,
    /// The matched route template, or `<unmatched>`.
    pub route: String,
    /// HTTP status code.
    pub status: u16,
}

/// What happened to an approval request.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum ApprovalOutcome {
    /// A request was opened (a prompt went to the approvers).
    Opened,
    /// Approved by a key holder (the payload is on its way).
    Approved,
    /// The new device acknowledged the approval: it is trusted.
    Completed,
    /// The new device could not open the approval.
    Failed,
    /// Denied.
    Denied,
    /// Withdrawn by its requester or closed by an email verification.
    Cancelled,
    /// Nobody decided in time.
    Expired,
}

/// An email code's fate.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum CodeOutcome {
    /// Handed to the mail transport.
    Sent,
    /// The transport refused or failed (nothing was throttled).
    Failed,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ApprovalLabel {
    outcome: ApprovalOutcome,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabel {
    outcome: CodeOutcome,
}

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    approvals: Family<ApprovalLabel, Counter>,
    codes: Family<CodeLabel, Counter>,
    /// Event streams open now.
    pub event_streams: Gauge,
    refused_connections: Counter,
    /// Seconds a write transaction holds the write lock: from taking it (SQLite: `BEGIN
    /// IMMEDIATE` returned; PostgreSQL: the advisory lock granted) to the end of `COMMIT`.
    pub commit_seconds: Histogram,
    /// Seconds a write transaction waits before it holds the write lock: from asking for
    /// it (SQLite: its turn on the connection, then `BEGIN IMMEDIATE`; PostgreSQL: a pooled
    /// connection, then the advisory lock every replica's writes share). One observation
    /// per write transaction begun.
    pub write_wait_seconds: Histogram,
}

/// The process's metrics.
pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("vouch");
        let requests = Family::<RequestLabels, Counter>::default();
        let approvals = Family::<ApprovalLabel, Counter>::default();
        let codes = Family::<CodeLabel, Counter>::default();
        let event_streams = Gauge::default();
        let refused_connections = Counter::default();
        registry.register(
            "refused_connections",
            "Connections closed at accept (connection limit)",
            refused_connections.clone(),
        );
        // 50 µs … ~1.6 s.
        let commit_seconds = Histogram::new(exponential_buckets(0.000_05, 2.0, 16));
        let write_wait_seconds = Histogram::new(exponential_buckets(0.000_05, 2.0, 16));
        registry.register("http_requests", "HTTP requests answered", requests.clone());
        registry.register(
            "approvals",
            "Approval requests by outcome",
            approvals.clone(),
        );
        registry.register("email_codes", "Email codes by outcome", codes.clone());
        registry.register("event_streams", "Event streams open", event_streams.clone());
        registry.register(
            "db_transaction_seconds",
            "Database write transactions, write lock taken to COMMIT done",
            commit_seconds.clone(),
        );
        registry.register(
            "db_write_wait_seconds",
            "Database write transactions, write lock asked for to taken (connection and lock waits)",
            write_wait_seconds.clone(),
        );
        Self {
            registry,
            requests,
            approvals,
            codes,
            event_streams,
            refused_connections,
            commit_seconds,
            write_wait_seconds,
        }
    }

    /// Counts one answered request.
    pub fn request(&self, labels: RequestLabels) {
        self.requests.get_or_create(&labels).inc();
    }

    /// Counts an approval outcome.
    pub fn approval(&self, outcome: ApprovalOutcome) {
        self.approvals
            .get_or_create(&ApprovalLabel { outcome })
            .inc();
    }

    /// Counts a connection closed at accept.
    pub fn refused_connection(&self) {
        self.refused_connections.inc();
    }

    /// Counts an email code outcome.
    pub fn code(&self, outcome: CodeOutcome) {
        self.codes.get_or_create(&CodeLabel { outcome }).inc();
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            log::error!("metrics could not be encoded");
        }
        out
    }
}

/// Counts an open event stream while it lives.
pub struct StreamGuard(());

impl StreamGuard {
    /// One more open stream until dropped.
    pub fn new() -> Self {
        METRICS.event_streams.inc();
        Self(())
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        METRICS.event_streams.dec();
    }
}
