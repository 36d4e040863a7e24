//! `GET /v1/dev/outbox` (only with `--dev`): the mail a person would read.

use axum::{Json, extract::State};
use serde::Deserialize;
use vouch_proto::Mail;

use crate::{AppState, error::ApiResult, extract::QueryParams, model::ts};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct OutboxQuery {
    /// Recipient address (case-insensitive).
    to: String,
}

/// Messages sent to `to`, oldest first.
#[utoipa::path(get, path = "/v1/dev/outbox", tag = "dev", params(OutboxQuery), responses((status = 200, body = Vec<Mail>)))]
pub async fn outbox(
    State(state): State<AppState>,
    QueryParams(q): QueryParams<OutboxQuery>,
) -> ApiResult<Json<Vec<Mail>>> {
    let out = state
        .db
        .tx(move |tx| {
            let mut stmt = tx.prepare_cached(
                "SELECT to_addr, subject, body, sent_at FROM mail WHERE to_addr = ?1 ORDER BY seq",
            )?;
            let rows = stmt
                .query_map([q.to.trim()], |r| {
                    Ok(Mail {
                        to: r.get(0)?,
                        subject: r.get(1)?,
                        body: r.get(2)?,
                        sent_at: ts(r.get(3)?),
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
        .await?;
    Ok(Json(out))
}
