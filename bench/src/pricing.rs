//! What an invocation costs on Lambda (arm64, US East (N. Virginia), on-demand, first tier):
//! <https://aws.amazon.com/lambda/pricing/>. Duration is billed per GB-second of configured
//! memory, rounded up to the next millisecond
//! (<https://aws.amazon.com/blogs/aws/new-for-aws-lambda-1ms-billing-granularity-adds-cost-savings/>),
//! plus a price per request. Free tier and Savings Plans left out.

use std::time::Duration;

/// arm64 duration price, USD per GB-second (first 7.5 billion GB-seconds a month).
pub const ARM64_USD_PER_GB_SECOND: f64 = 0.000_013_333_4;
/// Request price, USD per million requests (both architectures).
pub const USD_PER_MILLION_REQUESTS: f64 = 0.20;

/// Billed milliseconds of one invocation: its duration rounded up to a whole millisecond.
pub fn billed_ms(d: Duration) -> u64 {
    d.as_nanos().div_ceil(1_000_000).max(1) as u64
}

/// The mean billed duration of `samples`, in ms.
pub fn mean_billed_ms(samples: &[Duration]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.iter().map(|d| billed_ms(*d) as f64).sum::<f64>() / samples.len() as f64
}

/// USD per million invocations of `memory_mb` billed `billed_ms` each: Lambda counts memory in
/// GB of 1,024 MB (128 MB = 0.125 GB in its examples).
pub fn usd_per_million(memory_mb: u32, billed_ms: f64) -> f64 {
    let gb_seconds = f64::from(memory_mb) / 1024.0 * billed_ms / 1000.0;
    USD_PER_MILLION_REQUESTS + gb_seconds * ARM64_USD_PER_GB_SECOND * 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_up_to_the_millisecond() {
        assert_eq!(billed_ms(Duration::from_micros(1)), 1);
        assert_eq!(billed_ms(Duration::from_micros(1000)), 1);
        assert_eq!(billed_ms(Duration::from_micros(1001)), 2);
        assert_eq!(billed_ms(Duration::ZERO), 1);
        let mean = mean_billed_ms(&[Duration::from_micros(900), Duration::from_micros(2100)]);
        assert!((mean - 2.0).abs() < 1e-9);
    }

    #[test]
    fn prices_like_the_pricing_page() {
        // 1M invocations of 100 ms at 256 MB: 25,000 GB-s = 0.33 USD, plus 0.20 for requests
        // (the README's cost table).
        let usd = usd_per_million(256, 100.0);
        assert!((usd - (0.20 + 0.333_335)).abs() < 1e-6, "{usd}");
        assert!((usd_per_million(128, 0.0) - 0.20).abs() < 1e-12);
    }
}
