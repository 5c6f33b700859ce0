//! Latency samples and their summary (nearest-rank percentiles).

use std::time::Duration;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Requests that completed (successfully or not).
    pub count: usize,
    /// Requests that did not get the expected answer.
    pub errors: usize,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
    /// Completed requests per second of wall time.
    pub rps: f64,
}

/// The `p`-th percentile (0 < p <= 100) of sorted samples, by nearest rank.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn median(samples: &[Duration]) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    percentile(&sorted, 50.0)
}

pub fn summarize(mut samples: Vec<Duration>, errors: usize, wall: Duration) -> Summary {
    samples.sort_unstable();
    let secs = wall.as_secs_f64();
    Summary {
        count: samples.len(),
        errors,
        p50: percentile(&samples, 50.0),
        p99: percentile(&samples, 99.0),
        max: samples.last().copied().unwrap_or_default(),
        rps: if secs > 0.0 {
            samples.len() as f64 / secs
        } else {
            0.0
        },
    }
}

/// Milliseconds with three decimals.
pub fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    #[test]
    fn nearest_rank_percentiles() {
        let sorted: Vec<Duration> = (1..=100).map(d).collect();
        assert_eq!(percentile(&sorted, 50.0), d(50));
        assert_eq!(percentile(&sorted, 99.0), d(99));
        assert_eq!(percentile(&sorted, 100.0), d(100));
        assert_eq!(percentile(&[d(7)], 99.0), d(7));
        assert_eq!(percentile(&[], 50.0), Duration::ZERO);
        assert_eq!(median(&[d(3), d(1), d(2)]), d(2));
    }

    #[test]
    fn summary_counts_and_rate() {
        let s = summarize(vec![d(2), d(1), d(4), d(3)], 1, Duration::from_secs(2));
        assert_eq!((s.count, s.errors), (4, 1));
        assert_eq!((s.p50, s.max), (d(2), d(4)));
        assert!((s.rps - 2.0).abs() < 1e-9);
        assert_eq!(ms(Duration::from_micros(1500)), "1.500");
    }
}
