//! A closed-loop load generator: `concurrency` workers send requests back to back until
//! `requests` were sent or `max_time` passed, whichever comes first.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::stats::{Summary, summarize};

#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub concurrency: usize,
    pub requests: usize,
    pub max_time: Duration,
}

/// Runs `call(worker, i)` for i in 0..requests on `concurrency` workers; `call` returns
/// whether the answer was the expected one.
pub async fn run<F, Fut>(load: Load, call: F) -> Summary
where
    F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send + 'static,
{
    let call = Arc::new(call);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + load.max_time;
    let mut workers = Vec::with_capacity(load.concurrency);
    for worker in 0..load.concurrency.max(1) {
        let (call, next) = (call.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let mut samples = Vec::with_capacity(load.requests / load.concurrency.max(1) + 1);
            let mut errors = 0;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= load.requests || Instant::now() >= deadline {
                    break;
                }
                let t = Instant::now();
                let ok = call(worker, i).await;
                samples.push(t.elapsed());
                if !ok {
                    errors += 1;
                }
            }
            (samples, errors)
        }));
    }
    let mut samples = Vec::with_capacity(load.requests);
    let mut errors = 0;
    for w in workers {
        match w.await {
            Ok((s, e)) => {
                samples.extend(s);
                errors += e;
            }
            Err(_) => errors += 1,
        }
    }
    let wall = started.elapsed();
    summarize(samples, errors, wall)
}

/// Runs the load `reps` times (request numbers continue across repetitions, so a route that
/// deletes never sees the same id twice) and returns the repetition with the median p99, with
/// the errors of all of them: on a shared machine one scheduling stall should not decide a p99.
pub async fn run_median<F, Fut>(load: Load, reps: usize, call: F) -> Summary
where
    F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send + 'static,
{
    let call = Arc::new(call);
    let mut runs = Vec::with_capacity(reps.max(1));
    for r in 0..reps.max(1) {
        let call = call.clone();
        let offset = r * load.requests;
        runs.push(run(load, move |w, i| call(w, i + offset)).await);
    }
    let errors = runs.iter().map(|s| s.errors).sum();
    runs.sort_by_key(|s| s.p99);
    let mut median = runs.swap_remove(runs.len() / 2);
    median.errors = errors;
    median
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_each_request_once_and_counts_errors() {
        let load = Load {
            concurrency: 4,
            requests: 50,
            max_time: Duration::from_secs(5),
        };
        let s = run(load, |_, i| async move { i % 10 != 0 }).await;
        assert_eq!(s.count, 50);
        assert_eq!(s.errors, 5);
    }

    #[tokio::test]
    async fn repetitions_continue_numbering_and_sum_errors() {
        let load = Load {
            concurrency: 2,
            requests: 10,
            max_time: Duration::from_secs(5),
        };
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let s2 = seen.clone();
        let s = run_median(load, 3, move |_, i| {
            s2.lock().unwrap().push(i);
            async move { i != 25 }
        })
        .await;
        let mut seen = seen.lock().unwrap().clone();
        seen.sort_unstable();
        assert_eq!(seen, (0..30).collect::<Vec<_>>());
        assert_eq!((s.count, s.errors), (10, 1));
    }
}
