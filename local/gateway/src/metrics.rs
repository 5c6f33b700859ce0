//! In-memory CloudWatch metrics for the local platform, bounded in size: what the functions
//! print as EMF lines (namespace `CrudMaster`) and what AWS itself would publish for the parts
//! the gateway emulates, under AWS's names and dimensions ([`EMULATED`]).
//!
//! Each series keeps one bucket per second (count, sum, min, max and at most
//! [`SAMPLES_PER_SECOND`] samples for percentiles) for [`RETENTION_SECS`]; at most
//! [`MAX_SERIES`] series and [`MAX_BUCKETS`] buckets in all (about 50 MB at worst; beyond
//! that the oldest second held makes room, and series beyond `MAX_SERIES` are dropped and
//! counted). Statistics are computed when asked, per period, like `GetMetricData`: `Sum`, `Average`, `Minimum`,
//! `Maximum`, `SampleCount` and percentiles `pNN`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

pub const RETENTION_SECS: u64 = 3 * 3600;
pub const MAX_SERIES: usize = 256;
pub const SAMPLES_PER_SECOND: usize = 32;
/// Seconds of data across all series: 3 hours of about 23 busy series.
pub const MAX_BUCKETS: usize = 250_000;

/// `(namespace, metric)` the gateway records itself, under the names AWS publishes them:
/// - `AWS/ApiGateway` (dimension `ApiId`): <https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-metrics.html>
/// - `AWS/Lambda` (dimension `FunctionName`): <https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html>
/// - `LambdaInsights` `init_duration` (dimension `function_name`), the cold start's init phase:
///   <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Lambda-Insights-metrics.html>
/// - `AWS/AmazonMQ` per queue (dimensions `Broker`, `VirtualHost`, `Queue`):
///   <https://docs.aws.amazon.com/amazon-mq/latest/developer-guide/rabbitmq-logging-monitoring.html>
/// - `AWS/SQS` (dimension `QueueName`): <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html>
pub const EMULATED: &[(&str, &str)] = &[
    ("AWS/ApiGateway", "Count"),
    ("AWS/ApiGateway", "4xx"),
    ("AWS/ApiGateway", "5xx"),
    ("AWS/ApiGateway", "Latency"),
    ("AWS/ApiGateway", "IntegrationLatency"),
    ("AWS/Lambda", "Invocations"),
    ("AWS/Lambda", "Errors"),
    ("AWS/Lambda", "Throttles"),
    ("AWS/Lambda", "Duration"),
    ("AWS/Lambda", "ConcurrentExecutions"),
    ("LambdaInsights", "init_duration"),
    ("AWS/AmazonMQ", "MessageCount"),
    ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
];

/// The namespace of the functions' own EMF metrics.
pub const APP_NAMESPACE: &str = "CrudMaster";

/// A metric: namespace, name and dimensions (sorted by name, as CloudWatch matches them).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MetricId {
    pub namespace: String,
    pub name: String,
    pub dimensions: Vec<(String, String)>,
}

impl MetricId {
    pub fn new(namespace: &str, name: &str, dimensions: &[(&str, &str)]) -> Self {
        let mut dimensions: Vec<(String, String)> = dimensions
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        dimensions.sort();
        Self {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            dimensions,
        }
    }
}

/// A CloudWatch statistic.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stat {
    Sum,
    Average,
    Minimum,
    Maximum,
    SampleCount,
    Percentile(f64),
}

impl Stat {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "Sum" => Self::Sum,
            "Average" => Self::Average,
            "Minimum" => Self::Minimum,
            "Maximum" => Self::Maximum,
            "SampleCount" => Self::SampleCount,
            p => {
                let n: f64 = p.strip_prefix('p')?.parse().ok()?;
                if !(0.0..=100.0).contains(&n) {
                    return None;
                }
                Self::Percentile(n)
            }
        })
    }
}

#[derive(Debug, Clone)]
struct Bucket {
    sec: u64,
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
    samples: Vec<f32>,
}

impl Bucket {
    fn new(sec: u64) -> Self {
        Self {
            sec,
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            samples: Vec::new(),
        }
    }

    fn add(&mut self, v: f64, rnd: u64) {
        self.count += 1;
        self.sum += v;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        if self.samples.len() < SAMPLES_PER_SECOND {
            self.samples.push(v as f32);
        } else {
            // Reservoir sampling: every value has the same chance to be kept.
            let i = (rnd % self.count) as usize;
            if i < SAMPLES_PER_SECOND {
                self.samples[i] = v as f32;
            }
        }
    }
}

#[derive(Default)]
struct Store {
    series: HashMap<MetricId, VecDeque<Bucket>>,
    first_seen: HashMap<MetricId, u64>,
    /// Buckets held, all series together.
    buckets: usize,
}

/// The recorder; cheap to clone (shared).
#[derive(Clone, Default)]
pub struct Recorder {
    store: Arc<Mutex<Store>>,
    dropped: Arc<AtomicU64>,
    rnd: Arc<AtomicU64>,
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

impl Recorder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `value` now.
    pub fn put(&self, id: MetricId, value: f64) {
        self.put_at(id, value, now_ms());
    }

    /// Records `value` at `ts_ms` (milliseconds since the epoch).
    pub fn put_at(&self, id: MetricId, value: f64, ts_ms: u64) {
        if !value.is_finite() {
            return;
        }
        let sec = ts_ms / 1000;
        // xorshift, for the reservoir; quality does not matter here.
        let mut x = self.rnd.load(Ordering::Relaxed) ^ ts_ms.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rnd.store(x, Ordering::Relaxed);
        let mut store = self.store.lock().unwrap_or_else(|p| p.into_inner());
        if !store.series.contains_key(&id) {
            if store.series.len() >= MAX_SERIES {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            store.first_seen.insert(id.clone(), sec);
        }
        let Store {
            series,
            buckets: total,
            ..
        } = &mut *store;
        // A new second beyond the global bound takes the place of the oldest second held, in
        // whichever series (at most MAX_SERIES fronts to compare, only when the bound is hit).
        let is_new_second = series
            .get(&id)
            .is_none_or(|b| b.binary_search_by_key(&sec, |b| b.sec).is_err());
        if is_new_second && *total >= MAX_BUCKETS {
            let oldest = series
                .iter()
                .filter_map(|(k, b)| b.front().map(|f| (f.sec, k)))
                .min_by_key(|(s, _)| *s)
                .filter(|(s, _)| *s < sec)
                .map(|(_, k)| k.clone());
            match oldest.and_then(|k| series.get_mut(&k)) {
                Some(b) => {
                    b.pop_front();
                    *total -= 1;
                }
                None => {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            }
        }
        let buckets = series.entry(id).or_default();
        let now = now_ms() / 1000;
        while buckets
            .front()
            .is_some_and(|b| b.sec + RETENTION_SECS < now)
        {
            buckets.pop_front();
            *total -= 1;
        }
        if sec + RETENTION_SECS < now {
            return;
        }
        // Buckets are in time order; a value usually lands in the last one.
        let pos = buckets.iter().rposition(|b| b.sec <= sec);
        if let Some(i) = pos
            && buckets[i].sec == sec
        {
            buckets[i].add(value, x);
            return;
        }
        *total += 1;
        let pos = buckets.iter().rposition(|b| b.sec <= sec);
        match pos {
            Some(i) => {
                let mut b = Bucket::new(sec);
                b.add(value, x);
                buckets.insert(i + 1, b);
            }
            None => {
                let mut b = Bucket::new(sec);
                b.add(value, x);
                buckets.push_front(b);
            }
        }
    }

    /// Series (or seconds) dropped because [`MAX_SERIES`] (or [`MAX_BUCKETS`]) was reached.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Number of series and of buckets held (at most [`MAX_SERIES`] and [`MAX_BUCKETS`]).
    pub fn size(&self) -> (usize, usize) {
        let store = self.store.lock().unwrap_or_else(|p| p.into_inner());
        (store.series.len(), store.buckets)
    }

    /// Every recorded metric.
    pub fn ids(&self) -> Vec<MetricId> {
        let store = self.store.lock().unwrap_or_else(|p| p.into_inner());
        let mut ids: Vec<MetricId> = store.series.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// When the metric was first recorded (seconds since the epoch).
    pub fn first_seen(&self, id: &MetricId) -> Option<u64> {
        let store = self.store.lock().unwrap_or_else(|p| p.into_inner());
        store.first_seen.get(id).copied()
    }

    /// `stat` of `id` per `period` seconds over `[from, to)` (seconds since the epoch, periods
    /// aligned to multiples of `period`), as `(period start, value)` for the periods with data.
    pub fn datapoints(
        &self,
        id: &MetricId,
        stat: Stat,
        period: u64,
        from: u64,
        to: u64,
    ) -> Vec<(u64, f64)> {
        let period = period.max(1);
        let store = self.store.lock().unwrap_or_else(|p| p.into_inner());
        let Some(buckets) = store.series.get(id) else {
            return Vec::new();
        };
        let mut grouped: BTreeMap<u64, Vec<&Bucket>> = BTreeMap::new();
        for b in buckets.iter().filter(|b| b.sec >= from && b.sec < to) {
            grouped.entry(b.sec - b.sec % period).or_default().push(b);
        }
        grouped
            .into_iter()
            .map(|(start, bs)| (start, aggregate(&bs, stat)))
            .collect()
    }

    /// `stat` of `id` over exactly `[from, to)` as one datapoint; `None` without data.
    pub fn statistic(&self, id: &MetricId, stat: Stat, from: u64, to: u64) -> Option<f64> {
        let store = self.store.lock().unwrap_or_else(|p| p.into_inner());
        let bs: Vec<&Bucket> = store
            .series
            .get(id)?
            .iter()
            .filter(|b| b.sec >= from && b.sec < to)
            .collect();
        (!bs.is_empty()).then(|| aggregate(&bs, stat))
    }

    /// Parses one line a function printed: an EMF document (`_aws.CloudWatchMetrics`) records
    /// each of its metrics with its dimensions; anything else is ignored. Returns how many
    /// values were recorded.
    pub fn ingest_emf(&self, line: &str) -> usize {
        let line = line.trim();
        if !line.starts_with('{') || !line.contains("\"_aws\"") {
            return 0;
        }
        let Ok(doc) = serde_json::from_str::<Value>(line) else {
            return 0;
        };
        let Some(aws) = doc.get("_aws") else {
            return 0;
        };
        let now = now_ms();
        let ts = aws
            .get("Timestamp")
            .and_then(Value::as_u64)
            .filter(|t| t.abs_diff(now) < 300_000)
            .unwrap_or(now);
        let mut n = 0;
        for directive in aws
            .get("CloudWatchMetrics")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(ns) = directive.get("Namespace").and_then(Value::as_str) else {
                continue;
            };
            let sets: Vec<Vec<&str>> = directive
                .get("Dimensions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_array)
                .map(|set| set.iter().filter_map(Value::as_str).collect())
                .collect();
            for metric in directive
                .get("Metrics")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let Some(name) = metric.get("Name").and_then(Value::as_str) else {
                    continue;
                };
                let values: Vec<f64> = match doc.get(name) {
                    Some(Value::Array(a)) => a.iter().filter_map(Value::as_f64).collect(),
                    Some(v) => v.as_f64().into_iter().collect(),
                    None => continue,
                };
                for set in &sets {
                    let dims: Vec<(&str, &str)> = set
                        .iter()
                        .filter_map(|d| doc.get(*d).and_then(Value::as_str).map(|v| (*d, v)))
                        .collect();
                    if dims.len() != set.len() {
                        continue;
                    }
                    for v in &values {
                        self.put_at(MetricId::new(ns, name, &dims), *v, ts);
                        n += 1;
                    }
                }
            }
        }
        n
    }
}

fn aggregate(bs: &[&Bucket], stat: Stat) -> f64 {
    let count: u64 = bs.iter().map(|b| b.count).sum();
    let sum: f64 = bs.iter().map(|b| b.sum).sum();
    match stat {
        Stat::Sum => sum,
        Stat::SampleCount => count as f64,
        Stat::Average => sum / count.max(1) as f64,
        Stat::Minimum => bs.iter().map(|b| b.min).fold(f64::INFINITY, f64::min),
        Stat::Maximum => bs.iter().map(|b| b.max).fold(f64::NEG_INFINITY, f64::max),
        Stat::Percentile(p) => {
            // Each second's samples stand for that second's count: weight them accordingly.
            let mut weighted: Vec<(f64, f64)> = Vec::new();
            for b in bs {
                let w = b.count as f64 / b.samples.len().max(1) as f64;
                weighted.extend(b.samples.iter().map(|v| (f64::from(*v), w)));
            }
            weighted.sort_by(|a, b| a.0.total_cmp(&b.0));
            let total: f64 = weighted.iter().map(|(_, w)| w).sum();
            let rank = total * p / 100.0;
            let mut acc = 0.0;
            for (v, w) in &weighted {
                acc += w;
                if acc >= rank {
                    return *v;
                }
            }
            weighted.last().map_or(0.0, |(v, _)| *v)
        }
    }
}

#[cfg(test)]
mod tests;
