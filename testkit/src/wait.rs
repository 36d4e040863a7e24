//! Waiting for a condition: polled up to a deadline, never a fixed sleep.

use std::{
    future::Future,
    time::{Duration, Instant},
};

/// How often a condition is asked again.
const POLL: Duration = Duration::from_millis(20);

/// Calls `attempt` until it returns `Some` (returned) or `timeout` has passed (`None`).
/// It is called at least once.
pub async fn poll_until<T, Fut>(timeout: Duration, mut attempt: impl FnMut() -> Fut) -> Option<T>
where
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = attempt().await {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// True as soon as `condition` holds; false if it still does not after `timeout`.
pub async fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    poll_until(timeout, || std::future::ready(condition().then_some(())))
        .await
        .is_some()
}

/// Runs `task(0)` .. `task(n - 1)` at once, each on a task of its own (racing for the same
/// thing), and returns their results in that order.
///
/// # Panics
/// If a task panics.
pub async fn all_at_once<T, Fut>(n: usize, mut task: impl FnMut(usize) -> Fut) -> Vec<T>
where
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let handles: Vec<_> = (0..n).map(|i| tokio::spawn(task(i))).collect();
    let mut out = Vec::with_capacity(n);
    for h in handles {
        out.push(h.await.expect("a racing task panicked"));
    }
    out
}
