//! The `vouch-server` command line: flags, signals and the admin command. The binary's
//! `main` is [`run`], so other crates' test binaries can start the very same server.

use std::{net::SocketAddr, path::PathBuf, process::ExitCode, time::Duration};

use crate::{Db, Settings, seed};
use clap::{Parser, Subcommand};
use vouch_proto::Role;

#[derive(Parser, Debug)]
#[command(
    name = "vouch-server",
    version,
    about = "Vouch reference server (v1 HTTP contract)"
)]
struct Cli {
    /// Address to listen on.
    #[arg(long, env = "VOUCH_LISTEN", default_value = "127.0.0.1:8787")]
    listen: SocketAddr,
    /// Data directory (the SQLite file and the mail outbox live here; created if missing).
    #[arg(long, env = "VOUCH_DATA", default_value = "./vouch-data")]
    data: PathBuf,
    /// PostgreSQL instead of the SQLite file: postgres://USER:PASSWORD@HOST:PORT/DB
    /// (the schema is created and migrated at start; --data keeps the outbox and lock).
    #[arg(long, env = "VOUCH_DATABASE", hide_env_values = true)]
    database: Option<String>,
    /// PostgreSQL connections this server holds at most.
    #[arg(long, env = "VOUCH_DATABASE_POOL_SIZE", default_value_t = crate::store::postgres::DEFAULT_POOL_SIZE)]
    database_pool_size: usize,
    /// Seconds one PostgreSQL statement may run before it is cancelled.
    #[arg(long, env = "VOUCH_DATABASE_STATEMENT_TIMEOUT", default_value_t = crate::store::postgres::DEFAULT_STATEMENT_TIMEOUT_SECS)]
    database_statement_timeout: u64,
    /// Email-code lifetime in seconds.
    #[arg(long, env = "VOUCH_CODE_TTL", default_value_t = vouch_proto::DEFAULT_CODE_TTL_SECS)]
    code_ttl: u64,
    /// Approval-request lifetime in seconds.
    #[arg(long, env = "VOUCH_APPROVAL_TTL", default_value_t = vouch_proto::DEFAULT_APPROVAL_TTL_SECS)]
    approval_ttl: u64,
    /// Seconds between two codes for one device.
    #[arg(long, env = "VOUCH_CODE_RESEND_INTERVAL", default_value_t = vouch_proto::CODE_RESEND_INTERVAL_SECS)]
    code_resend_interval: u64,
    /// Non-disabled devices per user.
    #[arg(long, env = "VOUCH_DEVICE_LIMIT", default_value_t = vouch_proto::DEFAULT_DEVICE_LIMIT)]
    device_limit: u32,
    /// Approval requests a user may open per 10 minutes.
    #[arg(long, env = "VOUCH_APPROVAL_RATE", default_value_t = vouch_proto::APPROVAL_REQUESTS_PER_WINDOW)]
    approval_rate: u32,
    /// Seed workspace "Acme" (admin@, alice@, bob@, carol@acme.test / dev-password) and
    /// serve GET /v1/dev/outbox and POST /v1/dev/clock.
    #[arg(long, env = "VOUCH_DEV")]
    dev: bool,
    /// Connections served at once.
    #[arg(long, env = "VOUCH_MAX_CONNECTIONS", default_value_t = crate::serve::DEFAULT_MAX_CONNECTIONS)]
    max_connections: usize,
    /// Connections from one client address (default: a quarter of --max-connections;
    /// behind a reverse proxy every client has the proxy's address, so raise it there).
    #[arg(long, env = "VOUCH_MAX_CONNECTIONS_PER_ADDRESS")]
    max_connections_per_address: Option<usize>,
    /// With --dev, allow a non-loopback --listen address (refused otherwise).
    #[arg(long, requires = "dev")]
    dev_allow_remote: bool,
    /// SMTP relay URL, e.g. smtps://user:pass@smtp.example.com:465 (default: outbox file).
    #[arg(long, env = "VOUCH_SMTP_URL", hide_env_values = true)]
    smtp_url: Option<String>,
    /// Sender address for SMTP mail.
    #[arg(
        long,
        env = "VOUCH_MAIL_FROM",
        default_value = "Vouch <no-reply@vouch.invalid>"
    )]
    mail_from: String,
    /// Give the web console's cookies `Secure` and the `__Host-` prefix even though
    /// --listen is a loopback address: set it when a TLS-terminating proxy on this host
    /// serves the console over HTTPS (off loopback they always have them).
    #[arg(long, env = "VOUCH_CONSOLE_SECURE_COOKIES")]
    console_secure_cookies: bool,
    /// Address of a reverse proxy in front of this server (repeat for several): requests
    /// arriving from it are taken to come from the last address of their X-Forwarded-For
    /// (limits, the console's address binding, the audit log); from anyone else that
    /// header is ignored.
    #[arg(
        long = "trusted-proxy",
        env = "VOUCH_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    trusted_proxies: Vec<std::net::IpAddr>,
    /// Log lines as text or as one JSON object per line (`ts`, `level`, `target`,
    /// `request_id`, `msg`).
    #[arg(long, env = "VOUCH_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Option<Command>,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    /// `[time LEVEL target] [req=ID] message`.
    Text,
    /// One JSON object per line.
    Json,
}

fn init_logging(format: LogFormat) {
    use std::io::Write;
    let mut b = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"));
    // The PostgreSQL driver logs every statement's parameters at debug level (token
    // hashes, ciphertexts): never below info, whatever RUST_LOG says.
    b.filter_module("tokio_postgres", log::LevelFilter::Info);
    let request = || crate::REQUEST_ID.try_with(|id| id.clone()).ok();
    match format {
        LogFormat::Json => {
            b.format(move |buf, r| {
                let line = serde_json::json!({
                    "ts": buf.timestamp_millis().to_string(),
                    "level": r.level().as_str(),
                    "target": r.target(),
                    "request_id": request(),
                    "msg": r.args().to_string(),
                });
                writeln!(buf, "{line}")
            });
        }
        LogFormat::Text => {
            b.format(move |buf, r| {
                let req = request().map(|id| format!(" req={id}")).unwrap_or_default();
                writeln!(
                    buf,
                    "[{} {:5} {}{req}] {}",
                    buf.timestamp(),
                    r.level(),
                    r.target(),
                    r.args()
                )
            });
        }
    }
    b.init();
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Writes a consistent copy of the database to PATH while the server may be serving
    /// (SQLite online backup). Restore: stop the server, put the copy in an empty data
    /// directory as `vouch-server.db`, start.
    Backup {
        /// Where to write the copy (must not exist).
        path: PathBuf,
    },
    /// Creates or migrates the schema of the database (--database, else the SQLite file in
    /// --data) and exits; the server also does it at start.
    Migrate,
    /// Copies the workspace from the SQLite file in --data into an empty PostgreSQL
    /// database (docs/OPERATING.md, "Moving from SQLite to PostgreSQL"), in one
    /// transaction; the server on --data must be stopped.
    Copy {
        /// postgres://USER:PASSWORD@HOST:PORT/DB (migrated, must be empty), or another
        /// data directory for a copy into its SQLite file.
        #[arg(long, env = "VOUCH_COPY_TO", hide_env_values = true)]
        to: String,
    },
    /// Administration of the data directory.
    Admin {
        #[command(subcommand)]
        action: Admin,
    },
}

#[derive(Subcommand, Debug)]
enum Admin {
    /// Creates a user (the password is read from VOUCH_NEW_PASSWORD, never a flag).
    CreateUser {
        /// Workspace name (created if new).
        #[arg(long)]
        workspace: String,
        /// Email address.
        #[arg(long)]
        email: String,
        /// Make the user an admin.
        #[arg(long)]
        admin: bool,
    },
    /// Last resort for a user who lost every key holder: their next web or mobile email
    /// verification makes a first key holder again, once (logged; their devices are told).
    AllowEmailRoot {
        #[arg(long)]
        email: String,
    },
}

/// Parses `std::env::args`, runs the server (or the admin command) and returns the exit code.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    if let Some(Command::Backup { path }) = &cli.command {
        if cli.database.is_some() {
            eprintln!("error: a PostgreSQL database is backed up with pg_dump (docs/OPERATING.md)");
            return ExitCode::FAILURE;
        }
        if !cli.data.join(crate::db::DB_FILE).exists() {
            eprintln!("error: no database in {} (--data)", cli.data.display());
            return ExitCode::FAILURE;
        }
        return match Db::open(&cli.data).and_then(|db| db.backup_to(path)) {
            Ok(()) => {
                println!(
                    "backup of {} written to {}",
                    cli.data.display(),
                    path.display()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: backup failed: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if let Some(Command::Copy { to }) = &cli.command {
        return copy(&cli, to);
    }
    if let Some(Command::Migrate) = &cli.command {
        return match with_db(&cli, |_| Ok(())) {
            Ok(()) => {
                println!("the database schema is up to date");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if let Some(Command::Admin {
        action: Admin::AllowEmailRoot { email },
    }) = &cli.command
    {
        let e = email.clone();
        return match with_db(&cli, move |db| {
            seed::allow_email_root(db, &e).map_err(|e| e.to_string())
        }) {
            Ok(id) => {
                println!(
                    "user {email} id {id}: the next web or mobile email verification makes a key holder"
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if let Some(Command::Admin {
        action:
            Admin::CreateUser {
                workspace,
                email,
                admin,
            },
    }) = &cli.command
    {
        let Ok(password) = std::env::var("VOUCH_NEW_PASSWORD") else {
            eprintln!("error: set VOUCH_NEW_PASSWORD to the new user's password");
            return ExitCode::from(2);
        };
        let role = if *admin { Role::Admin } else { Role::Member };
        let (w, e) = (workspace.clone(), email.clone());
        return match with_db(&cli, move |db| {
            seed::create_user(db, &w, &e, &password, role).map_err(|e| e.to_string())
        }) {
            Ok(seed::Created::New(id)) => {
                println!("created user {email} id {id} in workspace {workspace}");
                ExitCode::SUCCESS
            }
            Ok(seed::Created::Existing(id)) => {
                eprintln!("error: a user {email} already exists (id {id}); nothing was changed");
                ExitCode::FAILURE
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let mut settings = Settings::new(cli.listen, cli.data.clone());
    settings.database_pool = pool_options(&cli);
    settings.code_ttl = Duration::from_secs(cli.code_ttl);
    settings.approval_ttl = Duration::from_secs(cli.approval_ttl);
    settings.code_resend_interval = Duration::from_secs(cli.code_resend_interval);
    settings.device_limit = cli.device_limit;
    settings.approval_rate_limit = cli.approval_rate;
    settings.dev = cli.dev;
    settings.dev_allow_remote = cli.dev_allow_remote;
    settings.max_connections = cli.max_connections;
    settings.max_connections_per_address = cli
        .max_connections_per_address
        .unwrap_or(cli.max_connections / 4);
    settings.smtp_url = cli.smtp_url;
    settings.mail_from = cli.mail_from;
    settings.database = cli.database;
    settings.console_secure_cookies = cli.console_secure_cookies;
    settings.trusted_proxies = cli.trusted_proxies.clone();
    let summary = Summary {
        database: settings.database.as_deref().map(redact_url),
        data: settings.data_dir.clone(),
        mail: match &settings.smtp_url {
            Some(url) => format!("SMTP {}", redact_url(url)),
            None => "dev outbox (codes kept in the data directory and at /v1/dev/outbox)".into(),
        },
        dev: settings.dev,
    };
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async move {
        let server = match crate::start(settings).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        println!("listening on {}", server.url());
        print_summary(&summary);
        wait_for_signal().await;
        log::info!("shutting down");
        server.shutdown().await;
        ExitCode::SUCCESS
    })
}

/// `copy --to TARGET`: the rows per table, then one line; or one error line.
fn copy(cli: &Cli, to: &str) -> ExitCode {
    if cli.database.is_some() {
        eprintln!(
            "error: copy reads the SQLite file in --data; give the target with --to, not --database (VOUCH_DATABASE); nothing was copied"
        );
        return ExitCode::FAILURE;
    }
    let target = crate::copy::Target::parse(to);
    match crate::copy::copy(&cli.data, &target, pool_options(cli)) {
        Ok(copied) => {
            for (table, rows) in &copied {
                println!("  {table:<20} {rows:>9} rows");
            }
            let total: u64 = copied.iter().map(|(_, n)| n).sum();
            println!(
                "copied {total} rows in {} tables from {} to {}",
                copied.len(),
                cli.data.display(),
                target.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}; nothing was copied");
            ExitCode::FAILURE
        }
    }
}

/// The PostgreSQL pool settings the flags name.
fn pool_options(cli: &Cli) -> crate::store::postgres::PoolOptions {
    crate::store::postgres::PoolOptions {
        size: cli.database_pool_size,
        statement_timeout: Duration::from_secs(cli.database_statement_timeout),
    }
}

/// Runs an admin command's `f` on the database the flags name: PostgreSQL with
/// `--database` (on a blocking thread of a runtime of its own), else the SQLite file in
/// `--data`.
fn with_db<T: Send + 'static>(
    cli: &Cli,
    f: impl FnOnce(&Db) -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    let Some(url) = cli.database.clone() else {
        return f(&Db::open(&cli.data).map_err(|e| e.to_string())?);
    };
    let opts = pool_options(cli);
    let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    rt.block_on(async move {
        let db = Db::connect(&url, opts).await.map_err(|e| e.to_string())?;
        tokio::task::spawn_blocking(move || f(&db))
            .await
            .map_err(|e| e.to_string())?
    })
}

/// What the operator is told at start-up, after the `listening on` line.
struct Summary {
    database: Option<String>,
    data: PathBuf,
    mail: String,
    dev: bool,
}

fn print_summary(s: &Summary) {
    if let Some(db) = &s.database {
        println!("  database        {db}");
    }
    println!("  data directory  {} (0700, files 0600)", s.data.display());
    println!("  mail            {}", s.mail);
    println!(
        "  dev mode        {}",
        if s.dev {
            "ON: seeded users with known passwords, mail readable over HTTP, loopback only"
        } else {
            "off"
        }
    );
    println!("  health          GET /healthz   metrics  GET /metrics");
}

/// An SMTP or database URL without its user name and password.
pub(crate) fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        Err(_) => "(unparsable URL)".into(),
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
