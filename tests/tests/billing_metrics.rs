//! The billing functions emit the EMF metrics the Terraform dashboard and alarms read, with the
//! same names, namespace and `Service` dimension.

mod billing_support;

use std::time::Duration;

use billing_support::{Harness, Mapping};
use integration_tests::amqp_url;
use serde_json::Value;
use telemetry::metrics::Metrics;

fn values(lines: &[String]) -> Vec<Value> {
    lines
        .iter()
        .map(|l| serde_json::from_str(l).expect("EMF line is JSON"))
        .collect()
}

fn sum(lines: &[Value], name: &str) -> f64 {
    lines.iter().filter_map(|v| v[name].as_f64()).sum()
}

#[tokio::test]
async fn billing_emits_the_metrics_the_alarms_use() {
    let mut h = Harness::new().await;
    let (api_metrics, api_sink) = Metrics::capturing("billing-api");
    let router = billing_api::router(billing_api::AppState {
        publisher: h.publisher.clone(),
        db: h.db.db.clone(),
        metrics: api_metrics,
    });
    let (consumer_metrics, consumer_sink) = Metrics::capturing("billing-consumer");
    h.consumer.metrics = consumer_metrics;

    for _ in 0..3 {
        let r = integration_tests::call(
            &router,
            "POST",
            "/api/billing",
            Some(r#"{"user_id":"3","number_of_items":"5","total_amount":"180"}"#),
            integration_tests::USER,
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.json);
    }
    let api = values(&api_sink.lock().unwrap());
    assert_eq!(sum(&api, "OrdersQueued"), 3.0);
    assert_eq!(
        api.iter()
            .filter(|v| v["PublishConfirmLatency"].is_number())
            .count(),
        3
    );
    for v in &api {
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Namespace"], "CrudMaster");
        assert_eq!(v["Service"], "billing-api");
    }

    let mut mapping = Mapping::start(&amqp_url(), &h.queue, 100).await;
    mapping
        .run_until_stored(&h.consumer, 3, Duration::from_secs(30))
        .await;
    mapping.close().await;
    let consumer = values(&consumer_sink.lock().unwrap());
    assert_eq!(sum(&consumer, "OrdersStored"), 3.0);
    assert_eq!(sum(&consumer, "OrdersDeadLettered"), 0.0);
    assert_eq!(sum(&consumer, "DbErrors"), 0.0);
    assert_eq!(
        sum(&consumer, "BatchSize"),
        3.0,
        "each order delivered once"
    );
    assert!(consumer.iter().all(|v| v["Service"] == "billing-consumer"));
    assert!(consumer.iter().any(|v| v.get("OrdersDuplicated").is_some()));
    h.cleanup().await;
}
