//! The connection loop: HTTP/1.1 over hyper with the limits a public server needs, which
//! `axum::serve` does not set. A client that never finishes its request headers is cut
//! off after [`HEADER_READ_TIMEOUT`]; headers may not exceed [`MAX_HEADER_BYTES`] (431);
//! at most `max_connections` connections are served at once and a quarter of them from
//! one address — more are closed at accept, before a byte is read. (Measured without
//! these: 6,000 connections sending 390 KB of unfinished headers each held 2.5 GB, and
//! 20,000 idle ones took every file descriptor.)

use std::{
    collections::HashMap,
    net::{IpAddr, SocketAddr},
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{Router, extract::ConnectInfo};
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
    service::TowerToHyperService,
};
use tokio::{net::TcpListener, sync::oneshot};
use tower::ServiceExt;

/// How long a client may take to send its request headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request head (request line and headers) read; larger gets 431.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Default for `--max-connections`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;

/// Counts open connections, in all and per client address.
struct Connections {
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
    max: usize,
    max_per_address: usize,
}

/// One open connection, counted until dropped.
struct Slot {
    conns: Arc<Connections>,
    address: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.conns.open.lock().unwrap_or_else(|e| e.into_inner());
        open.0 = open.0.saturating_sub(1);
        if let Some(n) = open.1.get_mut(&self.address) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.1.remove(&self.address);
            }
        }
    }
}

impl Connections {
    fn take(self: &Arc<Self>, address: IpAddr) -> Option<Slot> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let mine = open.1.get(&address).copied().unwrap_or(0);
        if open.0 >= self.max || mine >= self.max_per_address {
            return None;
        }
        open.0 += 1;
        *open.1.entry(address).or_default() += 1;
        Some(Slot {
            conns: self.clone(),
            address,
        })
    }
}

/// Serves `router` on `listener` (at most `max_connections` at once, `max_per_address`
/// from one address) until `stop` fires, then lets connections finish
/// (`on_stop` runs first, to end event streams) for at most 5 s.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    max_connections: usize,
    max_per_address: usize,
    stop: oneshot::Receiver<()>,
    on_stop: impl FnOnce(),
) {
    let conns = Arc::new(Connections {
        open: Mutex::default(),
        max: max_connections.max(1),
        max_per_address: max_per_address.clamp(1, max_connections.max(1)),
    });
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
        let svc = router
            .clone()
            .map_request(move |req: hyper::Request<hyper::body::Incoming>| {
                let mut req = req.map(axum::body::Body::new);
                req.extensions_mut().insert(ConnectInfo(peer));
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
