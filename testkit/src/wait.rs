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
