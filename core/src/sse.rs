//! Decoding of the server's event stream (`text/event-stream`, `GET /v1/events`) into
//! `(event id, event)`. Public so the fuzzer and the property tests drive the very code
//! the client runs on the network bytes.
//!
//! Framing is the `eventsource-stream` crate's; on top of it: comments and unnamed
//! events are skipped, an event without a numeric id is skipped, and an event kind this
//! build does not know (a newer server) is skipped rather than ending the stream.

use futures_util::{FutureExt, Stream, StreamExt};
use vouch_proto::Event;

use crate::error::{Error, Result};

/// Decodes a stream of body chunks. A transport error in the body is [`Error::Offline`].
pub(crate) fn decode<S, B, E>(body: S) -> impl Stream<Item = Result<(i64, Event)>> + Send
where
    S: Stream<Item = std::result::Result<B, E>> + Send,
    B: AsRef<[u8]> + Send,
    E: Send,
{
    use eventsource_stream::Eventsource;
    body.eventsource().filter_map(|item| async move {
        match item {
            Err(_) => Some(Err(Error::Offline)),
            Ok(ev) if ev.event.is_empty() || ev.event == "message" => None,
            Ok(ev) => {
                let id = ev.id.parse::<i64>().ok()?;
                serde_json::from_str::<Event>(&ev.data)
                    .ok()
                    .map(|parsed| Ok((id, parsed)))
            }
        }
    })
}

/// Decodes a whole body given as chunks (split anywhere, even inside a UTF-8 sequence or
/// a line ending): every event the client would act on, in order. Never panics.
pub fn decode_chunks(chunks: &[&[u8]]) -> Vec<Result<(i64, Event)>> {
    let body = futures_util::stream::iter(
        chunks
            .iter()
            .map(|c| Ok::<_, std::convert::Infallible>(c.to_vec())),
    );
    // Every chunk is ready at once, so the stream finishes without waiting.
    decode(body)
        .collect::<Vec<_>>()
        .now_or_never()
        .unwrap_or_default()
}
