//! The connection loop: HTTP/1.1 over hyper with the limits a public server needs, which
//! `axum::serve` does not set. A client that never finishes its request headers is cut
//! off after [`HEADER_READ_TIMEOUT`]; headers may not exceed [`MAX_HEADER_BYTES`] (431);
//! at most `max_connections` connections are served at once and a quarter of them from
//! one address — more are closed at accept, before a byte is read. (Measured without
//! these: 6,000 connections sending 390 KB of unfinished headers each held 2.5 GB, and
//! 20,000 idle ones took every file descriptor.)

use std::{net::SocketAddr, time::Duration};

use axum::{Router, extract::ConnectInfo};
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
    service::TowerToHyperService,
};
use tokio::{net::TcpListener, sync::oneshot};
use tower::ServiceExt;

use crate::slots::AddressSlots;

/// How long a client may take to send its request headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request head (request line and headers) read; larger gets 431.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Default for `--max-connections`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;

/// Serves `router` on `listener` (at most `max_connections` at once, `max_per_address`
/// from one address) until `stop` fires, then lets connections finish
/// (`on_stop` runs first, to end event streams) for at most 5 s.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    max_connections: usize,
    max_per_address: usize,
    trusted_proxies: std::sync::Arc<Vec<std::net::IpAddr>>,
    stop: oneshot::Receiver<()>,
    on_stop: impl FnOnce(),
) {
    let conns = AddressSlots::new(max_connections, max_per_address);
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_HEADER_BYTES);
    tokio::pin!(stop);
    loop {
        let (stream, peer): (tokio::net::TcpStream, SocketAddr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors or similar: back off instead of spinning.
                    log::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        let Some(slot) = conns.take(peer.ip()) else {
            crate::metrics::METRICS.refused_connection();
            drop(stream);
            continue;
        };
        let proxies = trusted_proxies.clone();
        let svc = router
            .clone()
            .map_request(move |req: hyper::Request<hyper::body::Incoming>| {
                let mut req = req.map(axum::body::Body::new);
                let client = client_address(peer, &proxies, req.headers());
                req.extensions_mut().insert(ConnectInfo(client));
                req
            });
        let conn = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(svc));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
            drop(slot);
        });
    }
    on_stop();
    let _ = tokio::time::timeout(Duration::from_secs(5), graceful.shutdown()).await;
}

/// The client a request is from: `peer`, or — when `peer` is one of the trusted reverse
/// proxies — the last address of its `X-Forwarded-For` (what that proxy appended; any
/// earlier entry is the client's own say). A missing or unparsable header leaves `peer`.
fn client_address(
    peer: SocketAddr,
    trusted_proxies: &[std::net::IpAddr],
    headers: &axum::http::HeaderMap,
) -> SocketAddr {
    if !trusted_proxies.contains(&peer.ip()) {
        return peer;
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .last()
        .and_then(|last| last.trim().parse::<std::net::IpAddr>().ok());
    forwarded.map_or(peer, |ip| SocketAddr::new(ip, peer.port()))
}
