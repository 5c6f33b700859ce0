//! Waiting for dependencies that are still coming up, within one bounded budget.
//!
//! On a first deploy, Terraform invokes setup as soon as the resources exist, but existing is
//! not accepting connections: `aws_db_proxy_target` returns while the proxy is still
//! registering its target, and a fresh broker can refuse connections for a while. Setup retries
//! each connection (database, broker, management API) with exponential backoff until one
//! shared deadline, logging what it waits for, and fails fast on errors a retry cannot fix
//! (a refused password).

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder, Retryable};
use tokio::time::Instant;

/// One deadline for every wait of a setup run.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    deadline: Instant,
}

/// The first wait; each next one doubles, up to [`MAX_WAIT`].
const FIRST_WAIT: Duration = Duration::from_millis(250);
const MAX_WAIT: Duration = Duration::from_secs(5);

impl Backoff {
    /// Waits start at 250 ms and double up to 5 s; nothing waits past `budget` from now.
    pub fn new(budget: Duration) -> Self {
        Self {
            deadline: Instant::now() + budget,
        }
    }

    /// backon's exponential waits, each cut to what is left of the deadline, and none once it
    /// has passed (then the last error is returned).
    fn waits(&self) -> impl backon::Backoff {
        let deadline = self.deadline;
        ExponentialBuilder::new()
            .with_min_delay(FIRST_WAIT)
            .with_max_delay(MAX_WAIT)
            .without_max_times()
            .build()
            .map_while(move |wait| {
                let left = deadline.saturating_duration_since(Instant::now());
                (!left.is_zero()).then(|| wait.min(left))
            })
    }

    /// Runs `attempt` until it succeeds, fails with an error `retryable` rejects, or the
    /// deadline passes (the last error is returned).
    pub async fn until_ready<T, E, F, Fut>(
        &self,
        what: &str,
        retryable: impl Fn(&E) -> bool,
        attempt: F,
    ) -> Result<T, E>
    where
        E: Display,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut tries = 1u32;
        let out = attempt
            .retry(self.waits())
            .when(retryable)
            .notify(|e, sleep| {
                tracing::warn!(
                    waiting_for = what,
                    tries,
                    retry_in_ms = sleep.as_millis() as u64,
                    budget_left_ms = self.deadline.saturating_duration_since(Instant::now()).as_millis() as u64,
                    error = %e,
                    "not accepting connections yet; retrying"
                );
                tries += 1;
            })
            .await;
        if out.is_ok() && tries > 1 {
            tracing::info!(waiting_for = what, tries, "ready");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test(start_paused = true)]
    async fn retries_with_growing_waits_until_success_or_the_deadline() {
        let calls = AtomicU32::new(0);
        let started = Instant::now();
        let out = Backoff::new(Duration::from_secs(60))
            .until_ready(
                "thing",
                |_: &String| true,
                || async {
                    if calls.fetch_add(1, Ordering::SeqCst) < 4 {
                        Err("down".to_owned())
                    } else {
                        Ok(7)
                    }
                },
            )
            .await;
        assert_eq!(out, Ok(7));
        // 250 + 500 + 1000 + 2000 ms of waits before the fifth try.
        assert_eq!(started.elapsed(), Duration::from_millis(3750));

        let started = Instant::now();
        let out: Result<(), String> = Backoff::new(Duration::from_secs(12))
            .until_ready("thing", |_| true, || async { Err("down".to_owned()) })
            .await;
        assert_eq!(out, Err("down".into()));
        assert_eq!(started.elapsed(), Duration::from_secs(12), "bounded");

        let calls = AtomicU32::new(0);
        let out: Result<(), String> = Backoff::new(Duration::from_secs(60))
            .until_ready(
                "thing",
                |e: &String| e != "bad password",
                || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Err("bad password".to_owned())
                },
            )
            .await;
        assert!(out.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1, "not retried");
    }
}
