//! A round-robin TCP load balancer on a loopback port, in front of the replicas of a
//! [`crate::TestServer`] in the PostgreSQL pass: each accepted connection goes to the next
//! replica, whole (HTTP requests, server-sent event streams), byte for byte. The
//! connection to the replica leaves from the client's own loopback address (127.x.y.z),
//! so a replica sees the address the client connected from, as it would without the
//! balancer (its per-address rules and the tests playing other networks still hold).

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    thread::JoinHandle,
};

use tokio::{
    net::{TcpListener, TcpSocket, TcpStream},
    sync::oneshot,
};

/// A running balancer; stops (closing its port and every connection through it) when
/// dropped or [`Balancer::stop`]ped.
pub(crate) struct Balancer {
    addr: SocketAddr,
    /// Connections handed to each replica so far, in the replicas' order.
    counts: Arc<Vec<AtomicUsize>>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Balancer {
    /// Listens on `addr` (port 0: any free port) and spreads connections over `replicas`
    /// in turn, counting into `counts` (one counter per replica).
    ///
    /// # Panics
    /// When the address cannot be bound.
    pub(crate) fn start(
        addr: SocketAddr,
        replicas: Vec<SocketAddr>,
        counts: Arc<Vec<AtomicUsize>>,
    ) -> Self {
        // std sets SO_REUSEADDR on Unix: a restart binds the same port again at once.
        let std_listener = std::net::TcpListener::bind(addr)
            .unwrap_or_else(|e| panic!("the balancer cannot listen on {addr}: {e}"));
        std_listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = std_listener.local_addr().expect("balancer address");
        let (stop, stopped) = oneshot::channel();
        let thread_counts = counts.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .build()
                .expect("balancer runtime");
            rt.block_on(serve(std_listener, replicas, thread_counts, stopped));
            // Dropping the runtime drops every connection task, closing both sides.
        });
        Self {
            addr,
            counts,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Where it listens.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connections handed to each replica so far.
    pub(crate) fn counts(&self) -> Vec<usize> {
        self.counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect()
    }

    /// Closes the port and every connection through it; returns once the port is free.
    pub(crate) fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn serve(
    listener: std::net::TcpListener,
    replicas: Vec<SocketAddr>,
    counts: Arc<Vec<AtomicUsize>>,
    mut stopped: oneshot::Receiver<()>,
) {
    let Ok(listener) = TcpListener::from_std(listener) else {
        return;
    };
    let mut next = 0usize;
    loop {
        let (client, peer) = tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(_) => continue,
            },
        };
        let i = next % replicas.len();
        next = next.wrapping_add(1);
        counts[i].fetch_add(1, Ordering::Relaxed);
        let replica = replicas[i];
        tokio::spawn(async move {
            // A replica that is down (stopped, restarting) drops the client: as a server
            // that went away would.
            if let Ok(mut upstream) = connect_from(peer, replica).await {
                let mut client = client;
                let _ = client.set_nodelay(true);
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            }
        });
    }
}

/// A connection to `replica` from the client's own address (any loopback address is this
/// machine's on Linux), so the replica sees who connected.
async fn connect_from(peer: SocketAddr, replica: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(peer.ip(), 0))?;
    let stream = socket.connect(replica).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}
