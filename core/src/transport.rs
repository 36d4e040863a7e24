//! Transport to the server: [`Transport`] is the client's typed seam (JSON in, JSON out, an
//! event stream); [`Http`] is the real one — rustls, timeouts, retries with backoff, typed
//! errors — and the unit tests put a scripted fake behind the same [`Wire`] trait to drive
//! the state machines without a server process.
//!
//! A request that could not reach the server becomes [`Error::Offline`] (never a
//! transport dump); a v1 error body becomes [`Error::Server`] with its code. Plain
//! `http://` is refused except to loopback.

use std::{future::Future, pin::Pin, sync::Arc, time::Duration};

use futures_util::Stream;
use reqwest::{Method, StatusCode, Url};
use serde::{Serialize, de::DeserializeOwned};
use vouch_proto::{ErrorBody, Event};

use crate::{
    TlsPolicy,
    error::{Error, Result},
};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// Attempts for a request that failed before reaching the server.
const ATTEMPTS: u32 = 3;
const BACKOFF_BASE: Duration = Duration::from_millis(200);

/// A stream of `(event id, event)` from `GET /v1/events`.
pub(crate) type EventStream = Pin<Box<dyn Stream<Item = Result<(i64, Event)>> + Send>>;

/// A boxed future of the wire.
pub(crate) type WireFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// What the client needs from a server, at the level of JSON text: one request, or the
/// event stream. Crate-private: the seam for unit tests, not an extension point.
///
/// Bodies cross as JSON bytes, not `serde_json::Value`: every wire type is then encoded
/// and decoded by one serde instantiation (the one the store and the event stream use
/// too), instead of a second one through `Value` (~90 KB of the mobile library).
pub(crate) trait Wire: Send + Sync {
    /// One request with a JSON body; the answer's JSON text (`null` for an empty body).
    fn call<'a>(
        &'a self,
        method: Method,
        path: &'a str,
        token: Option<&'a str>,
        body: Option<Vec<u8>>,
    ) -> WireFuture<'a, Vec<u8>>;

    /// The event stream (`query` like `?device_id=…`), resuming after `last_id`.
    fn events<'a>(
        &'a self,
        token: &'a str,
        query: &'a str,
        last_id: Option<i64>,
    ) -> WireFuture<'a, EventStream>;
}

/// The client's typed view of the server.
#[derive(Clone)]
pub(crate) struct Transport {
    wire: Arc<dyn Wire>,
}

impl Transport {
    /// The real HTTP transport to `server_url`.
    pub(crate) fn new(server_url: &str, tls: &TlsPolicy) -> Result<Self> {
        Ok(Self {
            wire: Arc::new(Http::new(server_url, tls)?),
        })
    }

    /// Any wire (the unit tests' fake).
    #[cfg(test)]
    pub(crate) fn with(wire: Arc<dyn Wire>) -> Self {
        Self { wire }
    }

    /// Sends a JSON request and decodes the JSON answer.
    pub(crate) async fn send<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&B>,
    ) -> Result<T> {
        let body = body
            .map(serde_json::to_vec)
            .transpose()
            .map_err(|_| Error::Protocol("request encoding"))?;
        let bytes = self.wire.call(method, path, token, body).await?;
        decode(&bytes).map_err(|_| Error::Protocol("response body does not match the contract"))
    }

    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        token: Option<&str>,
    ) -> Result<T> {
        self.send::<(), T>(Method::GET, path, token, None).await
    }

    pub(crate) async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        token: Option<&str>,
        body: &B,
    ) -> Result<T> {
        self.send(Method::POST, path, token, Some(body)).await
    }

    /// Opens the event stream (`query` like `?device_id=…`), resuming after `last_id`.
    pub(crate) async fn events(
        &self,
        token: &str,
        query: &str,
        last_id: Option<i64>,
    ) -> Result<EventStream> {
        self.wire.events(token, query, last_id).await
    }
}

/// The real transport: reqwest over rustls.
struct Http {
    http: reqwest::Client,
    base: Url,
}

/// Whether `url` may be used: https anywhere, http only to loopback.
pub(crate) fn check_url(url: &str) -> Result<Url> {
    let parsed =
        Url::parse(url).map_err(|_| Error::InvalidInput("server URL is not a URL".into()))?;
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" => {
            let loopback = match parsed.host() {
                Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                None => false,
            };
            if loopback {
                Ok(parsed)
            } else {
                Err(Error::InsecureTransport)
            }
        }
        _ => Err(Error::InvalidInput("server URL must be https://".into())),
    }
}

impl Http {
    fn new(server_url: &str, tls: &TlsPolicy) -> Result<Self> {
        let base = check_url(server_url)?;
        let https = base.scheme() == "https";
        let mut builder = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("vouch-core/", env!("CARGO_PKG_VERSION")))
            // A redirect could carry the password or a token past `check_url`'s rules.
            .redirect(reqwest::redirect::Policy::none())
            .https_only(https);
        if https {
            builder = builder.use_preconfigured_tls(crate::tls::client_config(tls)?);
        } else if !tls.pinned_spki_sha256.is_empty() {
            return Err(Error::InvalidInput(
                "certificate pins need an https:// server URL".into(),
            ));
        }
        let http = builder
            .build()
            .map_err(|_| Error::Protocol("HTTP client could not be built"))?;
        Ok(Self { http, base })
    }

    fn url(&self, path: &str) -> Result<Url> {
        self.base
            .join(path.trim_start_matches('/'))
            .map_err(|_| Error::Protocol("bad path"))
    }

    /// Sends a JSON request and decodes the JSON answer.
    async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> Result<Vec<u8>> {
        let url = self.url(path)?;
        let mut attempt = 0;
        let resp = loop {
            let mut req = self
                .http
                .request(method.clone(), url.clone())
                .timeout(REQUEST_TIMEOUT);
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            if let Some(b) = &body {
                req = req
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(b.clone());
            }
            match req.send().await {
                Ok(r) => break r,
                // A refused certificate is not "offline" and retrying will not help.
                Err(e) if crate::tls::rejection(&e).is_some() => {
                    return Err(unreachable_reason(&e));
                }
                // Not connected: the request never reached the server, so retrying is safe.
                Err(e) if e.is_connect() && attempt + 1 < ATTEMPTS => {
                    tokio::time::sleep(BACKOFF_BASE * 2u32.pow(attempt)).await;
                    attempt += 1;
                }
                Err(e) => return Err(unreachable_reason(&e)),
            }
        };
        let status = resp.status();
        if status.is_redirection() {
            return Err(Error::Redirected);
        }
        let bytes = read_capped(resp).await?;
        if status.is_success() {
            return Ok(if bytes.is_empty() {
                b"null".to_vec()
            } else {
                bytes.to_vec()
            });
        }
        Err(server_error(status, &bytes))
    }

    /// Opens the event stream.
    async fn stream(&self, token: &str, query: &str, last_id: Option<i64>) -> Result<EventStream> {
        let url = self.url(&format!("{}{query}", vouch_proto::routes::EVENTS))?;
        let mut req = self.http.get(url).bearer_auth(token);
        if let Some(id) = last_id {
            req = req.header("Last-Event-ID", id.to_string());
        }
        let resp = req.send().await.map_err(|e| unreachable_reason(&e))?;
        let status = resp.status();
        if status.is_redirection() {
            return Err(Error::Redirected);
        }
        if !status.is_success() {
            let bytes = read_capped(resp).await?;
            return Err(server_error(status, &bytes));
        }
        // At most MAX_ANSWER_BYTES per connection: then it ends and the client
        // reconnects from the last event id (an event that never ends buffers no more).
        let mut left = vouch_proto::MAX_ANSWER_BYTES;
        let body = futures_util::StreamExt::take_while(resp.bytes_stream(), move |chunk| {
            let go = match chunk {
                Ok(c) if c.len() <= left => {
                    left -= c.len();
                    true
                }
                Ok(_) => false,
                Err(_) => true,
            };
            std::future::ready(go)
        });
        let stream = crate::sse::decode(body);
        Ok(Box::pin(stream))
    }
}

impl Wire for Http {
    fn call<'a>(
        &'a self,
        method: Method,
        path: &'a str,
        token: Option<&'a str>,
        body: Option<Vec<u8>>,
    ) -> WireFuture<'a, Vec<u8>> {
        Box::pin(self.request(method, path, token, body))
    }

    fn events<'a>(
        &'a self,
        token: &'a str,
        query: &'a str,
        last_id: Option<i64>,
    ) -> WireFuture<'a, EventStream> {
        Box::pin(self.stream(token, query, last_id))
    }
}

/// Why a request did not reach the server: a refused certificate, or offline.
fn unreachable_reason(e: &reqwest::Error) -> Error {
    crate::tls::rejection(e).unwrap_or(Error::Offline)
}

/// An answer's body, refused ([`Error::Protocol`]) past [`vouch_proto::MAX_ANSWER_BYTES`]
/// without reading the rest: a server cannot make a phone buffer without end.
async fn read_capped(mut resp: reqwest::Response) -> Result<Vec<u8>> {
    const TOO_LARGE: Error = Error::Protocol("answer larger than the client reads");
    let cap = vouch_proto::MAX_ANSWER_BYTES;
    if resp.content_length().is_some_and(|n| n > cap as u64) {
        return Err(TOO_LARGE);
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|_| Error::Offline)? {
        if body.len() + chunk.len() > cap {
            return Err(TOO_LARGE);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Decodes a server's JSON with every string made safe to show
/// ([`vouch_proto::safe_to_show`]): a name, platform, address or message a server (or
/// anyone in its place) sends can neither repaint a terminal (escape sequences, line
/// breaks) nor reorder a screen (bidi overrides) around the code a person reads. An
/// answer of ASCII without escapes (ids, base64, numbers: every item listing) holds no
/// such character and is decoded as it is.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> serde_json::Result<T> {
    if bytes.is_ascii() && !bytes.contains(&b'\\') {
        return serde_json::from_slice(bytes);
    }
    // Through the generic value and back to bytes: one decoder per answer type (the
    // `from_slice` one), not a second `from_value` one each (+280 KB in the library).
    let safe = made_safe(bytes)?;
    serde_json::from_slice(&safe)
}

/// `bytes` (JSON) with every string made safe to show, as JSON again.
fn made_safe(bytes: &[u8]) -> serde_json::Result<Vec<u8>> {
    let mut value: serde_json::Value = serde_json::from_slice(bytes)?;
    make_safe(&mut value);
    serde_json::to_vec(&value)
}

fn make_safe(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::String(s) => {
            if let std::borrow::Cow::Owned(safe) = vouch_proto::safe_to_show(s) {
                *s = safe;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(make_safe),
        Value::Object(fields) => fields.values_mut().for_each(make_safe),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

fn server_error(status: StatusCode, bytes: &[u8]) -> Error {
    match decode::<ErrorBody>(bytes) {
        Ok(body) => Error::Server {
            code: body.error.code,
            message: body.error.message,
            attempts_left: body.error.attempts_left,
            retry_after_secs: body.error.retry_after_secs,
        },
        Err(_) if status.is_server_error() => Error::ServerFailed {
            status: status.as_u16(),
        },
        Err(_) => Error::Protocol("error response without a v1 error body"),
    }
}
