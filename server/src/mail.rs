//! Outgoing mail: SMTP (`lettre`); or, only with `--dev`, the dev outbox — each message
//! appended to `outbox.jsonl` (0600) in the data directory and kept in the database for
//! `GET /v1/dev/outbox`. Without `--dev` the server does not start without SMTP, so live
//! codes are never kept at rest.

use std::{io::Write, path::PathBuf};

use crate::store::params;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor, message::Mailbox};

use crate::{db::Db, error::ApiResult, model::now};

/// Where mail goes.
pub enum Mailer {
    /// The dev outbox file (and table); only with `--dev`.
    Outbox { file: PathBuf },
    /// An SMTP relay.
    Smtp {
        transport: Box<AsyncSmtpTransport<Tokio1Executor>>,
        from: Mailbox,
    },
}

impl Mailer {
    /// Sends one plain-text message. SMTP failures are logged (without the body) and
    /// reported as `mail_not_sent` (503: try again).
    pub async fn send(&self, db: &Db, to: &str, subject: &str, body: &str) -> ApiResult<()> {
        match self {
            Mailer::Outbox { file } => {
                let (to2, subject2, body2) = (to.to_owned(), subject.to_owned(), body.to_owned());
                let sent_at = now();
                db.tx(move |tx| {
                    tx.execute(
                        "INSERT INTO mail (to_addr, subject, body, sent_at) VALUES (?1, ?2, ?3, ?4)",
                        params![to2, subject2, body2, sent_at],
                    )?;
                    Ok(())
                })
                .await?;
                let line = serde_json::json!({
                    "to": to, "subject": subject, "body": body,
                    "sent_at": crate::model::ts(sent_at).format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
                });
                let file = file.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    if let Ok(mut f) = crate::files::private_options().append(true).open(&file) {
                        let _ = writeln!(f, "{line}");
                    }
                })
                .await;
                Ok(())
            }
            Mailer::Smtp { transport, from } => {
                let to_box: Mailbox = to
                    .parse()
                    .map_err(|_| crate::error::ApiError::bad_request("invalid email address"))?;
                let msg = Message::builder()
                    .from(from.clone())
                    .to(to_box)
                    .subject(subject)
                    .body(body.to_owned())
                    .map_err(|_| crate::error::ApiError::internal())?;
                transport.send(msg).await.map_err(|e| {
                    log::error!(
                        "smtp send failed: {}",
                        e.to_string().lines().next().unwrap_or("error")
                    );
                    crate::error::ApiError::new(
                        vouch_proto::ErrorCode::MailNotSent,
                        "the email could not be sent; try again",
                    )
                })?;
                Ok(())
            }
        }
    }
}
