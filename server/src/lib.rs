//! # vouch-server
//!
//! The reference backend of Vouch: the v1 contract of `DESIGN.md` over axum and SQLite.
//! [`start`] runs it in-process (for `vouch demo` and tests); the `vouch-server` binary
//! wraps it with flags, signals and an admin command.

#![forbid(unsafe_code)]

mod audit;
mod auth;
pub mod cli;
pub mod copy;
pub mod db;
mod error;
mod extract;
mod files;
mod gate;
mod mail;
mod metrics;
mod model;
mod password;
mod push;
mod routes;
pub mod seed;
mod serve;
mod slots;
pub mod store;

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use axum::{
    Router,
    extract::DefaultBodyLimit,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use tokio::sync::oneshot;
use vouch_proto::{
    DEFAULT_APPROVAL_TTL_SECS, DEFAULT_CODE_TTL_SECS, DEFAULT_DEVICE_LIMIT, ErrorCode,
    MAX_BODY_BYTES,
};

pub use db::Db;
pub use error::{ApiError, ApiResult};
pub use mail::Mailer;

/// Server settings (the binary fills them from flags and environment variables).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address to listen on; port 0 picks a free one.
    pub listen: SocketAddr,
    /// Directory of the SQLite file and the dev outbox.
    pub data_dir: PathBuf,
    /// Email-code lifetime.
    pub code_ttl: Duration,
    /// Approval-request lifetime.
    pub approval_ttl: Duration,
    /// Minimum time between two codes for one device.
    pub code_resend_interval: Duration,
    /// Non-disabled devices per user.
    pub device_limit: u32,
    /// Approval requests a user may open per 10 minutes (prompt throttle).
    pub approval_rate_limit: u32,
    /// Seed the dev workspace and serve `GET /v1/dev/outbox`.
    pub dev: bool,
    /// Connections served at once.
    pub max_connections: usize,
    /// Of those, from one client address (behind a reverse proxy every client has the
    /// proxy's address: set it to `max_connections` there).
    pub max_connections_per_address: usize,
    /// With `dev`, listen on a non-loopback address too (refused otherwise: the dev
    /// workspace has known passwords and serves its mail).
    pub dev_allow_remote: bool,
    /// SMTP relay URL (`smtps://user:pass@host:465`); required unless `dev`, whose mail
    /// goes to the outbox file and `GET /v1/dev/outbox`.
    pub smtp_url: Option<String>,
    /// Sender address for SMTP.
    pub mail_from: String,
    /// A PostgreSQL URL to serve from instead of the SQLite file in `data_dir`.
    pub database: Option<String>,
    /// The PostgreSQL pool's size and statement timeout.
    pub database_pool: store::postgres::PoolOptions,
    /// Give the console's cookies `Secure` and the `__Host-` prefix even on a loopback
    /// listen address (a TLS-terminating proxy in front on the same host). Off loopback
    /// they always have them; see [`Settings::console_secure_cookies`].
    pub console_secure_cookies: bool,
    /// Reverse proxies in front of this server: a request whose connection comes from one
    /// of these addresses is taken to come from the last address of its
    /// `X-Forwarded-For` (the one that proxy appended). From any other peer the header is
    /// ignored. Empty: no forwarding header is trusted.
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

impl Settings {
    /// Defaults of the contract, listening on `listen` with data in `data_dir`.
    pub fn new(listen: SocketAddr, data_dir: impl Into<PathBuf>) -> Self {
        Self {
            listen,
            data_dir: data_dir.into(),
            code_ttl: Duration::from_secs(DEFAULT_CODE_TTL_SECS),
            approval_ttl: Duration::from_secs(DEFAULT_APPROVAL_TTL_SECS),
            code_resend_interval: Duration::from_secs(vouch_proto::CODE_RESEND_INTERVAL_SECS),
            device_limit: DEFAULT_DEVICE_LIMIT,
            approval_rate_limit: vouch_proto::APPROVAL_REQUESTS_PER_WINDOW,
            dev: false,
            max_connections: serve::DEFAULT_MAX_CONNECTIONS,
            max_connections_per_address: serve::DEFAULT_MAX_CONNECTIONS / 4,
            dev_allow_remote: false,
            smtp_url: None,
            mail_from: "Vouch <no-reply@vouch.invalid>".into(),
            database: None,
            database_pool: store::postgres::PoolOptions::default(),
            console_secure_cookies: false,
            trusted_proxies: Vec::new(),
        }
    }

    /// Whether the console's cookies are `Secure` and `__Host-` named: decided by this
    /// configuration (a non-loopback listen address, or the flag), never by a request's
    /// `Host` header.
    pub fn console_secure_cookies(&self) -> bool {
        self.console_secure_cookies || !self.listen.ip().is_loopback()
    }
}

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    db: Db,
    settings: Arc<Settings>,
    mailer: Arc<Mailer>,
    /// Bounds concurrent password hashing (sign-in), overall and per client address.
    hashing: Arc<gate::HashGate>,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The database could not be opened or migrated.
    #[error("database: {0}")]
    Database(#[from] db::OpenError),
    /// Another server already serves this data directory.
    #[error("another vouch-server is using the data directory {0}")]
    DataDirInUse(PathBuf),
    /// `--dev` on an address other machines can reach.
    #[error(
        "--dev serves known passwords and the mail outbox: it listens on loopback only ({0} is not); add --dev-allow-remote if you mean it"
    )]
    DevNotLoopback(SocketAddr),
    /// Without `--dev` codes must go out by SMTP, never to a file at rest.
    #[error(
        "no mail transport: set --smtp-url (VOUCH_SMTP_URL), or run a local test server with --dev"
    )]
    NoMail,
    /// Seeding failed.
    #[error("seeding the dev workspace failed")]
    Seed,
    /// The listen address is unavailable.
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
    /// The SMTP URL is invalid.
    #[error("invalid SMTP settings: {0}")]
    Smtp(String),
}

/// A server running on a background task.
pub struct RunningServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    /// The data-directory lock, released when the server is dropped.
    _lock: std::fs::File,
}

impl RunningServer {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, lets in-flight requests finish, and waits.
    pub async fn shutdown(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut self.task).await;
    }
}

/// Builds the application (router with every route, limits and error fallbacks) and the
/// OpenAPI document derived from the same route list.
pub fn app(state: AppState) -> (Router, utoipa::openapi::OpenApi) {
    let (router, mut api) = routes::router(state.settings.dev).split_for_parts();
    routes::complete(&mut api);
    let router = router.merge(routes::console_pages());
    let api_json = serde_json::to_string_pretty(&api).unwrap_or_default();
    let router = router
        .layer(axum::middleware::from_fn(log_requests))
        .route("/healthz", axum::routing::get(healthz))
        .route(
            "/metrics",
            axum::routing::get(|| async {
                (
                    [(
                        header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    metrics::METRICS.render(),
                )
            }),
        )
        .route(
            "/v1/openapi.json",
            axum::routing::get(move || async move {
                ([(header::CONTENT_TYPE, "application/json")], api_json)
            }),
        )
        .fallback(|| async { ApiError::new(ErrorCode::NotFound, "no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                ErrorCode::MethodNotAllowed,
                "method not allowed on this route",
            )
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            |_| -> Response {
                log::error!("a handler panicked");
                ApiError::internal().into_response()
            },
        ))
        .with_state(state);
    (router, api)
}

/// `GET /healthz`: 200 `{"status":"ok"}` when the database answers, 503 otherwise.
async fn healthz(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    match state.db.ping().await {
        Ok(()) => axum::Json(serde_json::json!({"status": "ok"})).into_response(),
        Err(_) => ApiError::busy(5, "the database does not answer").into_response(),
    }
}

tokio::task_local! {
    /// The id of the request the current task serves (in every log line it writes).
    pub static REQUEST_ID: String;
}

/// The request's id: the caller's `X-Request-Id` when it is a short token of letters,
/// digits and dashes (a proxy's id carries through), otherwise a new one.
fn request_id(req: &axum::extract::Request) -> String {
    req.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string())
}

/// Logs one line per request: method, route template (never the raw URI or headers, so
/// no token or value can reach the log), status and duration; every line the request's
/// task writes carries its id, which the answer returns as `X-Request-Id`.
async fn log_requests(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let id = request_id(&req);
    let mut resp = REQUEST_ID.scope(id.clone(), log_request(req, next)).await;
    if let Ok(v) = axum::http::HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}

async fn log_request(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "<unmatched>".into());
    let started = std::time::Instant::now();
    let resp = next.run(req).await;
    metrics::METRICS.request(metrics::RequestLabels {
        method: method.to_string(),
        route: route.clone(),
        status: resp.status().as_u16(),
    });
    log::info!(
        "{method} {route} -> {} ({:.1} ms)",
        resp.status().as_u16(),
        started.elapsed().as_secs_f64() * 1e3
    );
    resp
}

/// Opens the database, seeds it with `--dev`, binds and serves in the background.
pub async fn start(settings: Settings) -> Result<RunningServer, StartError> {
    if settings.dev && !settings.listen.ip().is_loopback() && !settings.dev_allow_remote {
        return Err(StartError::DevNotLoopback(settings.listen));
    }
    if !settings.dev && settings.smtp_url.is_none() {
        return Err(StartError::NoMail);
    }
    let db = match &settings.database {
        Some(url) => {
            // The data directory still holds the lock and the dev outbox.
            files::private_dir(&settings.data_dir)
                .map_err(|e| db::OpenError::at(&settings.data_dir, e))?;
            Db::connect(url, settings.database_pool).await?
        }
        None => Db::open(&settings.data_dir)?,
    };
    let lock = lock_data_dir(&settings.data_dir)?;
    if settings.dev {
        let db2 = db.clone();
        tokio::task::spawn_blocking(move || seed::dev_workspace(&db2))
            .await
            .map_err(|_| StartError::Seed)?
            .map_err(|_| StartError::Seed)?;
    }
    if let Some(url) = &settings.smtp_url {
        refuse_plaintext_smtp_credentials(url)?;
    }
    let mailer = match &settings.smtp_url {
        Some(url) => Mailer::Smtp {
            transport: Box::new(
                lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(url)
                    .map_err(|e| StartError::Smtp(e.to_string()))?
                    .build(),
            ),
            from: settings
                .mail_from
                .parse()
                .map_err(|_| StartError::Smtp("invalid --mail-from".into()))?,
        },
        // Only with --dev (checked above).
        None => Mailer::Outbox {
            file: settings.data_dir.join("outbox.jsonl"),
        },
    };
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .map_err(|e| StartError::Bind(settings.listen, e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| StartError::Bind(settings.listen, e))?;
    let state = AppState {
        db,
        settings: Arc::new(settings),
        mailer: Arc::new(mailer),
        hashing: Arc::new(gate::HashGate::for_this_machine()),
    };
    let (router, _) = app(state.clone());
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let shutdown_state = state.clone();
    let max_connections = state.settings.max_connections;
    let per_address = state.settings.max_connections_per_address;
    let task = tokio::spawn(serve::serve(
        listener,
        router,
        max_connections,
        per_address,
        Arc::new(state.settings.trusted_proxies.clone()),
        stop_rx,
        move || {
            // Wake event streams so they notice the shutdown and end.
            shutdown_state.db.hub().stop();
        },
    ));
    Ok(RunningServer {
        addr,
        stop: Some(stop_tx),
        task,
        _lock: lock,
    })
}

/// A password in an `smtp://` URL without `?tls=required` would cross the network in
/// the clear (`AUTH PLAIN` without STARTTLS): refused; use `smtps://` or require STARTTLS.
fn refuse_plaintext_smtp_credentials(url: &str) -> Result<(), StartError> {
    let parsed = url::Url::parse(url).map_err(|e| StartError::Smtp(e.to_string()))?;
    let tls_required = parsed
        .query_pairs()
        .any(|(k, v)| k == "tls" && v == "required");
    if parsed.scheme() == "smtp" && parsed.password().is_some() && !tls_required {
        return Err(StartError::Smtp(
            "a password over plain smtp:// would travel in the clear; use smtps:// or add ?tls=required".into(),
        ));
    }
    Ok(())
}

/// Takes an exclusive lock on `DIR/vouch-server.lock` for the life of the server, so a
/// second server on the same data directory refuses to start (admin commands, which
/// work beside a running server, do not take it).
pub(crate) fn lock_data_dir(dir: &std::path::Path) -> Result<std::fs::File, StartError> {
    let path = dir.join("vouch-server.lock");
    let file = files::private_options()
        .write(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| StartError::Database(db::OpenError::at(&path, e)))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(StartError::DataDirInUse(dir.into())),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(StartError::Database(db::OpenError::at(&path, e)))
        }
    }
}

/// Status of a JSON 200/201/202 response.
pub(crate) fn created() -> StatusCode {
    StatusCode::CREATED
}
