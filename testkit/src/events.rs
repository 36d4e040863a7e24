//! A server-sent event stream (`GET /v1/events`), read as the apps read it.

use std::{pin::Pin, time::Duration};

use eventsource_stream::{Event, Eventsource};
use futures_util::{Stream, StreamExt};
use serde_json::Value;

use crate::Api;

/// How long [`Events::expect`] waits for each event.
const EVENT_WAIT: Duration = Duration::from_secs(10);

type EventStream = Pin<Box<dyn Stream<Item = Result<Event, String>> + Send>>;

/// An open event stream.
pub struct Events {
    stream: EventStream,
}

impl Events {
    pub(crate) async fn connect(
        api: &Api,
        token: &str,
        query: &str,
        last_event_id: Option<&str>,
    ) -> Self {
        let mut req = api
            .http
            .get(api.url(&format!("/v1/events{query}")))
            .bearer_auth(token);
        if let Some(id) = last_event_id {
            req = req.header("Last-Event-ID", id);
        }
        let resp = req.send().await.expect("events request");
        assert_eq!(
            resp.status(),
            200,
            "events: {}",
            resp.text().await.unwrap_or_default()
        );
        let stream = resp
            .bytes_stream()
            .eventsource()
            .map(|r| r.map_err(|e| e.to_string()));
        Self {
            stream: Box::pin(stream),
        }
    }

    /// Skips events until one named `kind` comes; returns its id and JSON data.
    ///
    /// # Panics
    /// If the stream ends or fails, or no such event comes within 10 s.
    pub async fn expect(&mut self, kind: &str) -> (String, Value) {
        let next = async {
            loop {
                let ev = self.raw().await;
                if ev.event == kind {
                    return (ev.id, serde_json::from_str(&ev.data).expect("event JSON"));
                }
            }
        };
        tokio::time::timeout(EVENT_WAIT, next)
            .await
            .unwrap_or_else(|_| panic!("no {kind} event within {EVENT_WAIT:?}"))
    }

    /// The next event, whatever its kind: its kind and JSON data (to show what a device
    /// did *not* get before it).
    ///
    /// # Panics
    /// If the stream ends or fails, or no event comes within 10 s.
    pub async fn next_event(&mut self) -> (String, Value) {
        let ev = tokio::time::timeout(EVENT_WAIT, self.raw())
            .await
            .unwrap_or_else(|_| panic!("no event within {EVENT_WAIT:?}"));
        let data = serde_json::from_str(&ev.data).expect("event JSON");
        (ev.event, data)
    }

    /// The next event as framed on the wire (no time limit: the callers set one).
    async fn raw(&mut self) -> Event {
        self.stream
            .next()
            .await
            .expect("event stream ended")
            .expect("event stream failed")
    }
}
