//! Served only with `--dev`: `GET /v1/dev/outbox`, the mail a person would read, and
//! `POST /v1/dev/clock`, which moves the server's clock forward so tests need not sleep.

use axum::{Json, extract::State};
use serde::{Deserialize, Serialize};
use vouch_proto::Mail;

use crate::{
    AppState,
    error::ApiResult,
    extract::{JsonBody, QueryParams},
    model::{advance_clock, ts},
};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OutboxQuery {
    /// Recipient address (case-insensitive).
    to: String,
}

/// Messages sent to `to`, oldest first.
#[utoipa::path(get, path = vouch_proto::routes::DEV_OUTBOX, tag = "dev", params(OutboxQuery), responses((status = 200, body = Vec<Mail>)))]
pub async fn outbox(
    State(state): State<AppState>,
    QueryParams(q): QueryParams<OutboxQuery>,
) -> ApiResult<Json<Vec<Mail>>> {
    let out = state
        .db
        .tx(move |tx| {
            let rows = tx.query_all(
                "SELECT to_addr, subject, body, sent_at FROM mail WHERE to_addr = ?1 ORDER BY seq",
                [q.to.trim()],
                |r| {
                    Ok(Mail {
                        to: r.get(0)?,
                        subject: r.get(1)?,
                        body: r.get(2)?,
                        sent_at: ts(r.get(3)?),
                    })
                },
            )?;
            Ok(rows)
        })
        .await?;
    Ok(Json(out))
}

/// How far to move the clock.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ClockAdvance {
    /// Seconds to add to the server's clock (it never goes back).
    advance_secs: u32,
}

/// The server's clock after the move.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ClockOffset {
    /// Seconds the server's clock now runs ahead of the real time.
    offset_secs: i64,
}

/// Moves the server's clock forward: codes, approval requests, tokens and throttles see
/// the time as passed.
#[utoipa::path(post, path = vouch_proto::routes::DEV_CLOCK, tag = "dev", request_body = ClockAdvance, responses((status = 200, body = ClockOffset)))]
pub async fn clock(JsonBody(req): JsonBody<ClockAdvance>) -> Json<ClockOffset> {
    Json(ClockOffset {
        offset_secs: advance_clock(req.advance_secs),
    })
}
