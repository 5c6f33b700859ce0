use super::*;

fn id() -> MetricId {
    MetricId::new("AWS/ApiGateway", "Latency", &[("ApiId", "x")])
}

#[test]
fn statistics_per_period() {
    let r = Recorder::new();
    let base = (now_ms() / 1000 / 60) * 60 * 1000;
    for i in 1..=100 {
        r.put_at(id(), i as f64, base + (i % 10) * 1000);
    }
    let at = |s| r.datapoints(&id(), s, 60, base / 1000, base / 1000 + 60);
    assert_eq!(at(Stat::Sum), vec![(base / 1000, 5050.0)]);
    assert_eq!(at(Stat::SampleCount)[0].1, 100.0);
    assert_eq!(at(Stat::Minimum)[0].1, 1.0);
    assert_eq!(at(Stat::Maximum)[0].1, 100.0);
    assert_eq!(at(Stat::Average)[0].1, 50.5);
    let p99 = at(Stat::Percentile(99.0))[0].1;
    assert!((98.0..=100.0).contains(&p99), "{p99}");
    let p50 = at(Stat::Percentile(50.0))[0].1;
    assert!((49.0..=52.0).contains(&p50), "{p50}");
    // Other periods are empty, as CloudWatch omits them.
    assert!(
        r.datapoints(&id(), Stat::Sum, 60, base / 1000 + 60, base / 1000 + 120)
            .is_empty()
    );
}

#[test]
fn bounded_samples_and_series() {
    let r = Recorder::new();
    let t = now_ms();
    for i in 0..10_000 {
        r.put_at(id(), f64::from(i), t);
    }
    let store = r.store.lock().unwrap();
    let b = &store.series[&id()];
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].count, 10_000);
    assert_eq!(b[0].samples.len(), SAMPLES_PER_SECOND);
    drop(store);
    for i in 0..(MAX_SERIES + 10) {
        r.put(MetricId::new("N", &format!("m{i}"), &[]), 1.0);
    }
    assert_eq!(r.size().0, MAX_SERIES);
    assert!(r.dropped() >= 10);
    // Too old to keep.
    r.put_at(id(), 1.0, t - (RETENTION_SECS + 10) * 1000);
    assert_eq!(r.store.lock().unwrap().series[&id()].len(), 1);
    let total: usize = r
        .store
        .lock()
        .unwrap()
        .series
        .values()
        .map(VecDeque::len)
        .sum();
    assert_eq!(r.size().1, total);
}

#[test]
fn the_buckets_of_all_series_are_bounded() {
    let r = Recorder::new();
    let t = now_ms() - (RETENTION_SECS - 60) * 1000;
    let per_series = MAX_BUCKETS / 20 + 100;
    for s in 0..21 {
        let m = MetricId::new("N", &format!("busy{s}"), &[]);
        for sec in 0..per_series as u64 {
            r.put_at(m.clone(), 1.0, t + sec * 1000);
        }
    }
    let (_, buckets) = r.size();
    assert_eq!(buckets, MAX_BUCKETS);
    // The newest seconds are kept: the oldest ones, of the first series, made room.
    let last = MetricId::new("N", "busy20", &[]);
    let end = (t / 1000) + per_series as u64;
    assert_eq!(
        r.statistic(&last, Stat::SampleCount, end - 10, end),
        Some(10.0)
    );
}

#[test]
fn stat_names() {
    assert_eq!(Stat::parse("p99"), Some(Stat::Percentile(99.0)));
    assert_eq!(Stat::parse("p99.9"), Some(Stat::Percentile(99.9)));
    assert_eq!(Stat::parse("Maximum"), Some(Stat::Maximum));
    assert_eq!(Stat::parse("p101"), None);
    assert_eq!(Stat::parse("Median"), None);
}

#[test]
fn emf_lines_become_metrics() {
    let r = Recorder::new();
    let line = shared_like_line();
    assert_eq!(r.ingest_emf(&line), 2);
    let queued = MetricId::new("CrudMaster", "OrdersQueued", &[("Service", "billing-api")]);
    let now = now_ms() / 1000;
    assert_eq!(
        r.datapoints(&queued, Stat::Sum, 60, now - 120, now + 1)
            .iter()
            .map(|p| p.1)
            .sum::<f64>(),
        1.0
    );
    assert_eq!(r.ingest_emf("not json"), 0);
    assert_eq!(r.ingest_emf("{\"level\":\"INFO\",\"msg\":\"_aws\"}"), 0);
    assert_eq!(r.ingest_emf("{\"_aws\": 3}"), 0);
}

fn shared_like_line() -> String {
    serde_json::json!({
        "_aws": {"Timestamp": now_ms(), "CloudWatchMetrics": [{
            "Namespace": "CrudMaster", "Dimensions": [["Service"]],
            "Metrics": [{"Name": "OrdersQueued", "Unit": "Count"}, {"Name": "PublishConfirmLatency", "Unit": "Milliseconds"}]
        }]},
        "Service": "billing-api", "OrdersQueued": 1, "PublishConfirmLatency": 3.5
    })
    .to_string()
}
