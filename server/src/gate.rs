//! The password-hash gate: argon2 costs 19 MiB and ~30 ms a hash, so sign-ins without an
//! account could otherwise fill the blocking pool (512 threads, ~10 GiB). Hashes run on
//! `permits` threads of their own (near the core count) — not on the blocking pool, whose
//! every new thread would keep its own malloc arena with 19 MiB in it (measured: 1.2 GiB
//! after 62 hashes on a many-core host) — so the memory is bounded by the thread count.
//! A bounded number of sign-ins wait for a turn; one client address may hold only a few of
//! those places. Whoever finds the gate full gets 503 `server_busy` with `Retry-After`,
//! before any memory is spent on them.

use std::{
    net::IpAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::sync::{Semaphore, oneshot};

/// A hash to run on a hashing thread.
type Job = Box<dyn FnOnce() + Send>;

use crate::{
    error::{ApiError, ApiResult},
    slots::{AddressSlots, Slot},
};

/// How long a sign-in waits for a hashing slot before it is told to come back.
const WAIT: Duration = Duration::from_secs(5);

/// Bounds concurrent password hashing, overall and per client address.
pub struct HashGate {
    permits: Arc<Semaphore>,
    /// The hashing threads' queue (never longer than `permits`: a job holds a permit).
    jobs: Mutex<std::sync::mpsc::Sender<Job>>,
    /// Hashes running or waiting, per client address and in all.
    places: Arc<AddressSlots>,
}

impl HashGate {
    /// A gate running `permits` hashes at once, with `max_places` running or waiting in
    /// all and `max_per_address` of those for one client address.
    pub fn new(permits: usize, max_places: usize, max_per_address: usize) -> Self {
        let permits = permits.max(1);
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..permits {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    loop {
                        let job = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                        match job {
                            Ok(job) => job(),
                            Err(_) => return, // the gate is gone
                        }
                    }
                });
            if spawned.is_err() {
                log::error!("could not start a password-hashing thread");
            }
        }
        Self {
            permits: Arc::new(Semaphore::new(permits)),
            jobs: Mutex::new(tx),
            places: AddressSlots::new(max_places, max_per_address),
        }
    }

    /// The default for this machine: one hash per core (at least 2), 16 places per
    /// running hash, a quarter of the places for one address.
    pub fn for_this_machine() -> Self {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .max(2);
        Self::new(cores, cores * 16, cores * 4)
    }

    /// Runs `hash` on a hashing thread when one is free; 503 `server_busy` when the gate
    /// is full, this address holds its share, or no thread frees up in time.
    pub async fn run<T: Send + 'static>(
        &self,
        address: IpAddr,
        hash: impl FnOnce() -> T + Send + 'static,
    ) -> ApiResult<T> {
        let _place = self.enter(address)?;
        let permit = tokio::time::timeout(WAIT, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| busy())?
            .map_err(|_| ApiError::internal())?;
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(hash());
            drop(permit);
        });
        self.jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(job)
            .map_err(|_| ApiError::internal())?;
        result.await.map_err(|_| ApiError::internal())
    }

    fn enter(&self, address: IpAddr) -> ApiResult<Slot> {
        self.places.take(address).ok_or_else(busy)
    }
}

fn busy() -> ApiError {
    ApiError::busy(1, "the server is busy signing people in")
}

#[cfg(test)]
mod tests {
    use super::*;
    use vouch_proto::ErrorCode;

    #[tokio::test]
    async fn a_full_gate_answers_busy_and_frees_its_places() {
        let gate = Arc::new(HashGate::new(1, 2, 2));
        let a: IpAddr = [10, 0, 0, 1].into();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let g = gate.clone();
        let first = tokio::spawn(async move { g.run(a, move || rx.recv().is_ok()).await });
        // Wait until the first hash holds its place.
        while gate.places.taken() == 0 {
            tokio::task::yield_now().await;
        }
        let g = gate.clone();
        let second = tokio::spawn(async move { g.run(a, || true).await });
        while gate.places.taken() < 2 {
            tokio::task::yield_now().await;
        }
        let third = gate.run(a, || true).await;
        assert_eq!(third.err().map(|e| e.code()), Some(ErrorCode::ServerBusy));
        tx.send(()).unwrap();
        assert!(first.await.unwrap().unwrap());
        assert!(second.await.unwrap().unwrap());
        assert_eq!(gate.places.taken(), 0);
        assert!(gate.run(a, || true).await.unwrap());
    }

    #[tokio::test]
    async fn one_address_cannot_take_every_place() {
        let gate = HashGate::new(1, 8, 1);
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        let _held = gate.enter(a).unwrap();
        assert_eq!(
            gate.enter(a).err().map(|e| e.code()),
            Some(ErrorCode::ServerBusy)
        );
        assert!(gate.enter(b).is_ok());
    }
}
